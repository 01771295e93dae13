-- 004: campaign lists saved from the list builder (analytics.campaigns), and their leads; both append-only.
-- The funnel reads the leads beside the store's own funnel events: a lead's later stages arrive with the bank's
-- funnel events under the same lead_id.

CREATE TABLE campaign_lists (
    campaign_id    TEXT PRIMARY KEY,         -- LIST-0001, ...
    name           TEXT NOT NULL,
    product        TEXT NOT NULL,
    channel        TEXT NOT NULL,
    starts_on      TEXT NOT NULL,
    ends_on        TEXT NOT NULL,
    spec_json      TEXT NOT NULL,            -- the product, minimum propensity and filters that made the list
    left_out_json  TEXT NOT NULL,            -- customers left out by contact hygiene, per reason
    rules_version  INTEGER NOT NULL,
    scores_as_of   TEXT NOT NULL,            -- the next-best-product scoring the list was made from
    model_version  TEXT NOT NULL,
    leads          INTEGER NOT NULL,
    expected       REAL NOT NULL,            -- expected conversions: the sum of the leads' probabilities
    created_by     TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     TEXT NOT NULL             -- UTC
);

CREATE TABLE campaign_leads (
    lead_id      INTEGER PRIMARY KEY,        -- from 1e15 up: apart from the lead ids of a bank's own campaigns
    campaign_id  TEXT NOT NULL REFERENCES campaign_lists (campaign_id),
    customer_id  INTEGER NOT NULL,
    branch_code  TEXT NOT NULL,
    rm_id        TEXT,                       -- the owner: the customer's relationship manager
    probability  REAL NOT NULL,
    created_at   TEXT NOT NULL,              -- UTC
    UNIQUE (campaign_id, customer_id)
);
CREATE INDEX campaign_leads_by_branch ON campaign_leads (branch_code);

CREATE TRIGGER campaign_lists_no_update BEFORE UPDATE ON campaign_lists
BEGIN SELECT RAISE(ABORT, 'campaign_lists is append-only'); END;
CREATE TRIGGER campaign_lists_no_delete BEFORE DELETE ON campaign_lists
BEGIN SELECT RAISE(ABORT, 'campaign_lists is append-only'); END;
CREATE TRIGGER campaign_leads_no_update BEFORE UPDATE ON campaign_leads
BEGIN SELECT RAISE(ABORT, 'campaign_leads is append-only'); END;
CREATE TRIGGER campaign_leads_no_delete BEFORE DELETE ON campaign_leads
BEGIN SELECT RAISE(ABORT, 'campaign_leads is append-only'); END;
