-- 001: the facts of the data model in shared/DESIGN.md.
-- Raw tables hold what a bank exports (or the generator makes); marts are
-- rebuilt from them by analytics.marts and are never imported into.
-- Application state written while the app runs (audit log, rule sets, care
-- tasks, sign-in lockouts) lives in the state store: analytics/state.py.
-- Large fact tables carry no PRIMARY KEY: DuckDB's index would slow bulk
-- loads and cost memory at 36M rows. Their keys live in analytics.schema and
-- the importer enforces them.

CREATE TABLE branches (
    branch_code  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    name_en      VARCHAR NOT NULL,
    city         VARCHAR NOT NULL,
    region       VARCHAR NOT NULL,
    opened_on    DATE
);

CREATE TABLE relationship_managers (
    rm_id        VARCHAR PRIMARY KEY,
    branch_code  VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    hired_on     DATE
);

CREATE TABLE customers (
    customer_id  BIGINT PRIMARY KEY,
    branch_code  VARCHAR NOT NULL,
    rm_id        VARCHAR,
    name         VARCHAR NOT NULL,
    gender       VARCHAR,
    birth_date   DATE,
    phone        VARCHAR,
    id_number    VARCHAR,
    city         VARCHAR,
    opened_on    DATE NOT NULL,
    -- set by a bank's own system when the customer relationship has ended
    closed_on    DATE,
    status       VARCHAR NOT NULL DEFAULT 'active'
);

CREATE TABLE accounts (
    account_id   BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    product      VARCHAR NOT NULL,
    opened_on    DATE NOT NULL,
    closed_on    DATE,
    maturity_on  DATE
);

-- Month-end snapshot per customer, as exported by the core banking system.
CREATE TABLE monthly_balances (
    customer_id          BIGINT NOT NULL,
    month                DATE NOT NULL,
    deposits_cny         DOUBLE NOT NULL,
    investments_cny      DOUBLE NOT NULL,
    insurance_cny        DOUBLE NOT NULL,
    loans_cny            DOUBLE NOT NULL,
    txn_count            INTEGER NOT NULL,
    txn_amount_cny       DOUBLE NOT NULL,
    digital_logins       INTEGER NOT NULL,
    last_txn_on          DATE
);

CREATE TABLE interactions (
    interaction_id BIGINT NOT NULL,
    customer_id    BIGINT NOT NULL,
    rm_id          VARCHAR,
    kind           VARCHAR NOT NULL,
    channel        VARCHAR NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    note           VARCHAR
);

CREATE TABLE campaigns (
    campaign_id  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    product      VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    starts_on    DATE NOT NULL,
    ends_on      DATE NOT NULL
);

CREATE TABLE funnel_events (
    lead_id      BIGINT NOT NULL,
    campaign_id  VARCHAR NOT NULL,
    customer_id  BIGINT NOT NULL,
    rm_id        VARCHAR,
    stage        VARCHAR NOT NULL,
    occurred_at  TIMESTAMP NOT NULL
);

CREATE TABLE surveys (
    survey_id    BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    answered_at  TIMESTAMP NOT NULL,
    touchpoint   VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    nps          TINYINT,
    csat         TINYINT
);

CREATE TABLE complaints (
    complaint_id BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    category     VARCHAR NOT NULL,
    severity     VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    opened_at    TIMESTAMP NOT NULL,
    resolved_at  TIMESTAMP,
    sla_days     INTEGER NOT NULL
);

-- Written by `bankcrm score` (a writer like any other: private copy, then swap).
CREATE TABLE churn_scores (
    customer_id    BIGINT NOT NULL,
    as_of          DATE NOT NULL,
    model_version  VARCHAR NOT NULL,
    probability    DOUBLE NOT NULL,
    reasons_json   VARCHAR
);
