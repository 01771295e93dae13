-- 006: the marts of additive parts (branch_month, survey_month, complaint_month) and the funnel's leads
-- (funnel_leads), which every page reads (analytics.measures). They are built by the marts, which
-- `bankcrm migrate` (and so `make run`) rebuilds after this migration: a store built before them gets them.
-- Nothing to reshape here; the table below only records when the store learnt of them.
CREATE TABLE IF NOT EXISTS funnel_leads (lead_id BIGINT);
