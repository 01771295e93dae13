-- 003: what two of the behaviour tags read (analytics.tags); both optional, NULL where a bank does not export them.
-- term_deposits_cny: the part of deposits_cny held in term deposits at the month-end (rate-sensitive).
-- inflow_cny: money credited to the customer's accounts during the month (a salary account's regular inflow).
ALTER TABLE monthly_balances ADD COLUMN term_deposits_cny DOUBLE;
ALTER TABLE monthly_balances ADD COLUMN inflow_cny DOUBLE;
