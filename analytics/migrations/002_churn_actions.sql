-- 002: what would help each customer on the warnings list, as the model estimates it.
ALTER TABLE churn_scores ADD COLUMN actions_json VARCHAR;
