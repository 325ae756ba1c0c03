-- What the warehouse knows, and what it could not use.
SELECT item, value FROM mart.coverage;
