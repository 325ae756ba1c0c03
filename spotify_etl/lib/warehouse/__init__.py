"""The PostgreSQL warehouse: the embedded server, migrations, views and the SQL files."""
