-- 007: the mart of tiers and lifecycle stages (tier_month, analytics.measures), which depends on the rule set: it
-- is built with the rule set in force, kept here, and rebuilt when another is approved (`bankcrm migrate`). The
-- marts, rebuilt by `bankcrm migrate` (and so `make run`) after this migration, fill both in.
CREATE TABLE IF NOT EXISTS mart_rules (version BIGINT NOT NULL, rules_json VARCHAR NOT NULL);
