-- 007: the built-in defaults, version 0, get a row of their own, so that they can be proposed and approved
-- again like any earlier version (a roll-back to the defaults). Their rules are the release's DEFAULT_RULES
-- (analytics.rules), never this row's JSON, which stays empty.
INSERT INTO segment_rules (version, rules_json, comment, author, based_on, created_at)
VALUES (0, '{}', 'built-in defaults', 'bankcrm', 0, '1970-01-01 00:00:00');
