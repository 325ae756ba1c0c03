-- Every raw platform string, with its device family. Partner / cast / car patterns come first:
-- "Partner android_tv" is a TV, not a phone.
INSERT INTO core.dim_platform (platform, device_family)
SELECT p,
       CASE
           WHEN p ~* 'android[ _-]?auto|carplay|\mcar\M|tesla|automotive' THEN 'car'
           WHEN p ~* 'cast|chromecast|\mtv\M|_tv|smart[ _]?tv|tizen|webos|roku|fire[ _]?tv|playstation|\mps[345]\M|xbox|apple[ _]?tv|tvos' THEN 'cast/TV'
           WHEN p ~* 'sonos|speaker|partner|amazon|alexa|echo|bose|google[ _]home|nest|homepod|denon|yamaha|bang' THEN 'speaker/partner'
           WHEN p ~* 'web[ _]?player|browser|chrome|firefox|safari|edge' THEN 'web'
           WHEN p ~* 'android' THEN 'android'
           WHEN p ~* '\mios\M|iphone|ipad|ipod' THEN 'ios'
           WHEN p ~* 'windows' THEN 'desktop-windows'
           WHEN p ~* 'os ?x|macos|mac os|\mosx\M|darwin' THEN 'desktop-mac'
           WHEN p ~* 'linux' THEN 'desktop-linux'
           ELSE 'other'
       END
FROM (SELECT DISTINCT platform AS p FROM new_plays WHERE platform IS NOT NULL) AS raw
-- Ids are drawn in this order: the same plays give the same ids, whatever the plan.
ORDER BY p
ON CONFLICT (platform) DO NOTHING;

-- Fresh statistics, so that the fact loads join it with a sensible plan.
ANALYZE core.dim_platform;
