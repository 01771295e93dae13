"""Raw tables -> marts, the business grain the dashboard reads.

Rebuilt after every generate and every import (customer_month only when
the import changed something it reads), inside the same
private copy of the store (see `store.rewrite`), so readers only ever see
marts that match the raw tables next to them.

- `customer_month`: one row per customer and month-end, with AUM, its
  3-month average and its value 3 months earlier, products held, days since
  the last customer-initiated transaction, and the churn state.
- `customer_current`: one row per customer, the features as of the latest
  month-end (or the customer's last one), plus open complaints, the last
  survey answers, and the figures the behaviour tags read (analytics.tags).
- `customer_segments` and `found_segments`: segments found by k-means on
  customer_current (analytics.segments).
- `branch_month`, `survey_month`, `complaint_month`: the parts every figure is made of, summed at the
  grain the global filters need (analytics.measures, where each is defined once).
- `funnel_leads`: one row per lead of the funnel events (analytics.funnel.leads_of).
- `customer_pseudonyms`: every customer's pseudonym (analytics.scope), made
  with the deployment's $BANKCRM_PSEUDONYM_KEY, so that an analyst's tables
  carry it in place of the customer id without hashing on every query.

Definitions (shared/DESIGN.md):
- AUM = deposits + investments + insurance cash value, CNY, month-end.
- Churned = every account closed (or the customer closed by the bank's own
  system), or dormant 180 days with AUM under 100 CNY. A churned customer
  stays churned; `churned_in_month` marks the month it happened.
"""

from __future__ import annotations

import duckdb
import ibis
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends.sql.datatypes import DuckDBType

from analytics import config, funnel, measures, segments
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.schema import MART_RULES
from analytics.scope import PSEUDONYMS, pseudonym

DORMANT_CHURN_DAYS = 180
DORMANT_CHURN_MAX_AUM_CNY = 100

MART_TABLES = ("customer_month", "customer_current", "customer_segments", "found_segments", "funnel_leads",
               *(m.name for m in measures.MARTS), MART_RULES)

# One window pass over a narrow projection (the sort is the cost at 30M
# rows), the churn month found by an aggregate instead of a second window,
# and customer attributes joined at the end.
_CUSTOMER_MONTH = """
CREATE OR REPLACE TABLE customer_month AS
WITH base AS (
    SELECT customer_id, month,
           year(month) * 12 + month(month) - 1 AS month_idx,
           deposits_cny + investments_cny + insurance_cny AS aum_cny,
           last_txn_on
    FROM monthly_balances
), first_idx AS (
    SELECT min(month_idx) AS first_idx FROM base
), account_moves AS (
    -- +1 in the month an account opens (accounts older than the data count
    -- from its first month), -1 in the month it closes.
    SELECT customer_id, month_idx, sum(delta) AS delta
    FROM (
        SELECT customer_id, greatest(year(opened_on) * 12 + month(opened_on) - 1, (SELECT first_idx FROM first_idx)) AS month_idx, 1 AS delta
        FROM accounts
        UNION ALL
        SELECT customer_id, year(closed_on) * 12 + month(closed_on) - 1, -1
        FROM accounts WHERE closed_on IS NOT NULL
    )
    GROUP BY ALL
), windowed AS (
    -- One ordering for every window below: lags and running totals share a
    -- single sort. Months may have gaps, so each lag checks its month.
    SELECT b.customer_id, b.month, b.month_idx, b.aum_cny,
           sum(coalesce(am.delta, 0)) OVER w AS products_held,
           max(b.last_txn_on) OVER w AS last_txn_seen_on,
           lag(b.month_idx, 1) OVER w AS idx_1, lag(b.aum_cny, 1) OVER w AS aum_1,
           lag(b.month_idx, 2) OVER w AS idx_2, lag(b.aum_cny, 2) OVER w AS aum_2,
           lag(b.month_idx, 3) OVER w AS idx_3, lag(b.aum_cny, 3) OVER w AS aum_3
    FROM base b
    LEFT JOIN account_moves am USING (customer_id, month_idx)
    WINDOW w AS (PARTITION BY b.customer_id ORDER BY b.month_idx ROWS UNBOUNDED PRECEDING)
), averaged AS (
    SELECT customer_id, month, month_idx, aum_cny, products_held, last_txn_seen_on,
           (aum_cny + CASE WHEN idx_1 >= month_idx - 2 THEN aum_1 ELSE 0 END
                    + CASE WHEN idx_2 >= month_idx - 2 THEN aum_2 ELSE 0 END)
           / (1 + coalesce((idx_1 >= month_idx - 2)::INT, 0) + coalesce((idx_2 >= month_idx - 2)::INT, 0)) AS aum_3m_avg_cny,
           CASE month_idx - 3 WHEN idx_3 THEN aum_3 WHEN idx_2 THEN aum_2 WHEN idx_1 THEN aum_1 END AS aum_3m_ago_cny
    FROM windowed
), stated AS (
    SELECT w.*, c.branch_code, c.rm_id, c.opened_on,
           year(c.opened_on) * 12 + month(c.opened_on) - 1 AS opened_idx,
           datediff('day', coalesce(w.last_txn_seen_on, c.opened_on), w.month) AS days_since_last_txn,
           (w.customer_id IN (SELECT customer_id FROM accounts) AND w.products_held <= 0)
             OR (c.closed_on IS NOT NULL AND c.closed_on <= w.month)
             OR (datediff('day', coalesce(w.last_txn_seen_on, c.opened_on), w.month) >= $dormant_days
                 AND w.aum_cny < $dormant_max_aum) AS churn_condition
    FROM averaged w JOIN customers c USING (customer_id)
), churn_start AS (
    -- the first month the definition holds, and the customer's first month of data
    SELECT customer_id, min(month_idx) FILTER (WHERE churn_condition) AS churn_idx, min(month_idx) AS data_idx
    FROM stated GROUP BY customer_id
)
SELECT s.customer_id, s.month, s.month_idx, s.branch_code, s.rm_id,
       round(s.aum_cny, 2) AS aum_cny, mb.deposits_cny, mb.investments_cny, mb.insurance_cny, mb.loans_cny,
       round(s.aum_3m_avg_cny, 2) AS aum_3m_avg_cny, round(s.aum_3m_ago_cny, 2) AS aum_3m_ago_cny,
       greatest(s.products_held, 0)::INTEGER AS products_held,
       mb.txn_count, mb.txn_amount_cny, mb.digital_logins, mb.last_txn_on,
       s.days_since_last_txn,
       datediff('month', s.opened_on, s.month) AS tenure_months,
       coalesce(s.month_idx >= cs.churn_idx, false) AS is_churned,
       -- Churn in a customer's first month of data is news only for a
       -- customer who opened that month; older ones churned before the data.
       coalesce(s.month_idx = cs.churn_idx AND (s.month_idx > cs.data_idx OR s.opened_idx = s.month_idx), false) AS churned_in_month
FROM stated s
JOIN churn_start cs USING (customer_id)
JOIN monthly_balances mb ON mb.customer_id = s.customer_id AND mb.month = s.month
ORDER BY s.month, s.branch_code
"""

_CUSTOMER_CURRENT = """
CREATE OR REPLACE TABLE customer_current AS
WITH latest AS (
    SELECT * FROM customer_month
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY month_idx DESC) = 1
), store_as_of AS (
    SELECT coalesce(max(month), current_date) AS as_of FROM customer_month
), recent AS (
    SELECT cm.customer_id,
           sum(cm.txn_count) FILTER (WHERE cm.month_idx = l.month_idx) AS txn_count_30d,
           sum(cm.txn_count) FILTER (WHERE cm.month_idx > l.month_idx - 3) AS txn_count_90d,
           sum(cm.digital_logins) FILTER (WHERE cm.month_idx > l.month_idx - 3) AS digital_logins_90d
    FROM customer_month cm JOIN latest l USING (customer_id)
    WHERE cm.month_idx > l.month_idx - 3
    GROUP BY cm.customer_id
), complaints_open AS (
    SELECT cp.customer_id,
           count(*) AS open_complaints,
           max(datediff('day', cp.opened_at, s.as_of)) AS oldest_open_complaint_days
    FROM complaints cp, store_as_of s
    WHERE cp.opened_at <= s.as_of + INTERVAL 1 DAY
      AND (cp.resolved_at IS NULL OR cp.resolved_at > s.as_of + INTERVAL 1 DAY)
    GROUP BY cp.customer_id
), last_nps AS (
    SELECT customer_id, nps AS last_nps, answered_at AS last_nps_at
    FROM surveys WHERE nps IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY answered_at DESC, survey_id DESC) = 1
), last_csat AS (
    SELECT customer_id, csat AS last_csat
    FROM surveys WHERE csat IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY answered_at DESC, survey_id DESC) = 1
), earlier AS (
    -- the 3-month average AUM three months before the latest month: a tier moving up or down
    SELECT cm.customer_id, cm.aum_3m_avg_cny AS aum_3m_avg_3m_ago_cny
    FROM customer_month cm JOIN latest l USING (customer_id)
    WHERE cm.month_idx = l.month_idx - 3
), credit AS (
    SELECT a.customer_id, count(*) AS credit_products
    FROM accounts a JOIN latest l USING (customer_id)
    WHERE a.product IN ('credit_card', 'loan', 'mortgage') AND a.opened_on <= l.month
      AND (a.closed_on IS NULL OR a.closed_on > l.month)
    GROUP BY a.customer_id
), habits AS (
    -- Inflows of the last 6 months, when all 6 are known: their median and how much they vary
    -- (standard deviation / mean). Transaction amounts of the last 12 months: the average in holiday
    -- months (Spring Festival in January or February, May Day, National Day) against the other months.
    SELECT mb.customer_id,
           CASE WHEN count(mb.inflow_cny) FILTER (WHERE mb.idx > l.month_idx - 6) = 6
                THEN median(mb.inflow_cny) FILTER (WHERE mb.idx > l.month_idx - 6) END AS inflow_median_6m_cny,
           CASE WHEN count(mb.inflow_cny) FILTER (WHERE mb.idx > l.month_idx - 6) = 6
                 AND avg(mb.inflow_cny) FILTER (WHERE mb.idx > l.month_idx - 6) > 0
                THEN round(stddev_pop(mb.inflow_cny) FILTER (WHERE mb.idx > l.month_idx - 6)
                           / avg(mb.inflow_cny) FILTER (WHERE mb.idx > l.month_idx - 6), 4) END AS inflow_variation_6m,
           CASE WHEN count(*) FILTER (WHERE mb.holiday) >= 2 AND count(*) FILTER (WHERE NOT mb.holiday) >= 2
                THEN round(avg(mb.txn_amount_cny) FILTER (WHERE mb.holiday)
                           / nullif(avg(mb.txn_amount_cny) FILTER (WHERE NOT mb.holiday), 0), 4) END AS holiday_spend_ratio_12m
    FROM (SELECT customer_id, inflow_cny, txn_amount_cny, year(month) * 12 + month(month) - 1 AS idx,
                 list_contains($holiday_months, month(month)) AS holiday
          FROM monthly_balances) mb
    JOIN latest l USING (customer_id)
    WHERE mb.idx > l.month_idx - 12 AND mb.idx <= l.month_idx
    GROUP BY mb.customer_id
), first_churn AS (
    SELECT customer_id, min(month) AS churned_month
    FROM customer_month WHERE churned_in_month GROUP BY customer_id
)
SELECT c.customer_id, c.branch_code, c.rm_id, c.gender, c.city,
       coalesce(l.month, s.as_of) AS as_of,
       l.month = s.as_of AS in_latest_month,
       date_sub('year', c.birth_date, s.as_of) AS age_years,  -- whole years lived, not year boundaries crossed
       c.opened_on,
       datediff('month', c.opened_on, s.as_of) AS tenure_months,
       l.aum_cny, l.aum_3m_avg_cny, l.aum_3m_ago_cny,
       CASE WHEN l.aum_3m_ago_cny > 0 THEN round((l.aum_cny - l.aum_3m_ago_cny) / l.aum_3m_ago_cny, 4) END AS aum_change_3m_pct,
       l.deposits_cny, l.investments_cny, l.insurance_cny, l.loans_cny,
       l.products_held,
       coalesce(r.txn_count_30d, 0) AS txn_count_30d,
       coalesce(r.txn_count_90d, 0) AS txn_count_90d,
       coalesce(r.digital_logins_90d, 0) AS digital_logins_90d,
       l.days_since_last_txn,
       coalesce(co.open_complaints, 0) AS open_complaints,
       co.oldest_open_complaint_days,
       n.last_nps, n.last_nps_at, cs.last_csat,
       coalesce(l.is_churned, false) OR c.status = 'closed' AS is_churned,
       coalesce(fc.churned_month, c.closed_on) AS churned_month,
       -- what the behaviour tags read (analytics.tags)
       lb.term_deposits_cny, coalesce(cr.credit_products, 0) AS credit_products,
       h.inflow_median_6m_cny, h.inflow_variation_6m, h.holiday_spend_ratio_12m, th.aum_3m_avg_3m_ago_cny
FROM customers c
CROSS JOIN store_as_of s
LEFT JOIN latest l USING (customer_id)
LEFT JOIN recent r USING (customer_id)
LEFT JOIN complaints_open co USING (customer_id)
LEFT JOIN last_nps n USING (customer_id)
LEFT JOIN last_csat cs USING (customer_id)
LEFT JOIN first_churn fc USING (customer_id)
LEFT JOIN monthly_balances lb ON lb.customer_id = c.customer_id AND lb.month = l.month
LEFT JOIN earlier th ON th.customer_id = c.customer_id
LEFT JOIN credit cr ON cr.customer_id = c.customer_id
LEFT JOIN habits h ON h.customer_id = c.customer_id
"""

HOLIDAY_MONTHS = (1, 2, 5, 10)  # Spring Festival (January or February), May Day and National Day golden weeks


# What customer_month reads, by table (None: every column). The rest of the raw tables feed
# customer_current only, which is rebuilt after every change.
CUSTOMER_MONTH_READS: dict[str, frozenset[str] | None] = {
    "monthly_balances": None,
    "accounts": None,
    "customers": frozenset({"customer_id", "branch_code", "rm_id", "opened_on", "closed_on"}),
}


def _month_reads(table: str, columns: set[str]) -> bool:
    if table not in CUSTOMER_MONTH_READS:
        return False
    read = CUSTOMER_MONTH_READS[table]
    return read is None or bool(read & columns)


def rebuild(con: duckdb.DuckDBPyConnection, changed: dict[str, set[str]] | None = None,
            rules: RuleSet | None = None) -> None:
    """Rebuild the marts from the raw tables on `con`. With `changed` (table -> the columns an import
    changed), customer_month is left as it is when it reads none of them: it is the long rebuild
    (about 25 s at 1,000,000 customers x 36 months), customer_current a short one. The marts of tiers and
    stages are built with `rules` (by default those they were built with before: `kept_rules`)."""
    built = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'customer_month'"
                        ).fetchone()[0]
    if changed is None or not built or any(_month_reads(table, columns) for table, columns in changed.items()):
        con.execute(
            _CUSTOMER_MONTH,
            {"dormant_days": DORMANT_CHURN_DAYS, "dormant_max_aum": DORMANT_CHURN_MAX_AUM_CNY},
        )
    con.execute(_CUSTOMER_CURRENT, {"holiday_months": list(HOLIDAY_MONTHS)})
    _aggregates(con, measures.MARTS, rules or kept_rules(con))
    segments.build(con)
    _pseudonyms(con)


def kept_rules(con: duckdb.DuckDBPyConnection) -> RuleSet:
    """The rule set the store's marts of tiers and stages were built with (the built-in defaults before any)."""
    found = con.table(MART_RULES).fetchall()  # (version, rules_json): migration 007
    return RuleSet.from_json(found[0][1], found[0][0]) if found else DEFAULT_RULES


def retier(con: duckdb.DuckDBPyConnection, rules: RuleSet) -> None:
    """Rebuild the marts of tiers and stages with `rules` (after a rule set is approved)."""
    _aggregates(con, tuple(m for m in measures.MARTS if m.by_rules), rules)


def _aggregates(con: duckdb.DuckDBPyConnection, marts: tuple[measures.Mart, ...], rules: RuleSet) -> None:
    """`marts` of analytics.measures (and with all of them the funnel's leads), from the raw tables and
    customer_month, and the rule set they were built with."""
    backend = ibis.duckdb.from_connection(con)
    built = {m.name: m.rows(backend.table, rules) for m in marts}
    if marts == measures.MARTS:
        built["funnel_leads"] = funnel.leads_of(backend.table("funnel_events"))
    for name, expr in built.items():
        # Not create_table: Ibis 12 makes columns NOT NULL that a filtered min leaves empty. Each column cast to
        # its Ibis type: DuckDB's own sums are HUGEINT and a date plus an interval a TIMESTAMP. The DDL as an
        # expression (Ibis 12's own drop_table loses the table's name under sqlglot 30).
        con.execute(sge.Drop(kind="TABLE", tables=[sg.table(name, quoted=True)], exists=True).sql("duckdb"))
        con.sql(backend.compile(expr)).select(*(
            duckdb.ColumnExpression(column).cast(duckdb.sqltype(DuckDBType.to_string(kind))).alias(column)
            for column, kind in expr.schema().items())).create(name)
    con.execute("DELETE FROM mart_rules")
    con.execute("INSERT INTO mart_rules VALUES (?, ?)", [rules.version, rules.to_json()])


class PseudonymClash(RuntimeError):
    pass


def _pseudonyms(con: duckdb.DuckDBPyConnection) -> None:
    backend = ibis.duckdb.from_connection(con)
    customers = backend.table("customers")
    con.execute("DROP TABLE IF EXISTS customer_pseudonyms")  # create_table(overwrite=True) of Ibis 12 drops no name
    built = backend.create_table(PSEUDONYMS, customers.select(
        "customer_id", pseudonym=pseudonym(customers.customer_id, config.secret("pseudonym"))))
    count, distinct = built.aggregate(n=built.count(), distinct=built.pseudonym.nunique()).execute().iloc[0]
    if count != distinct:  # 64 bits: about once in 10^5 builds of 10 million customers
        raise PseudonymClash(f"{count - distinct} pseudonyms are shared by two customers: set a new "
                             "BANKCRM_PSEUDONYM_KEY and rebuild the marts (bankcrm migrate --rebuild)")
