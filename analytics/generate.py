"""Demo data for a Chinese retail bank, built set-based inside DuckDB.

Every random draw is a hash of (seed, entity, period, purpose) turned into a
uniform number, so the store is a pure function of (customers, months, seed,
end month) and of nothing else: not thread scheduling, not row order.

How churn is caused, so that a model can learn it and a branch head can see
it coming: each customer has a monthly hazard of disengaging, raised by a
single product, little digital use, short tenure and youth, lowered by a
high tier. From the month they disengage, transactions and logins fall
away, AUM drains, complaints become more likely and stay open longer, and
survey scores drop; one to three months later the customer leaves, either
closing every account or draining the balance and going silent (the
"dormant 180 days with AUM under 100 CNY" branch of the churn definition).

How products are adopted, so that the next-best-product models learn something
real but are never sure: a customer holds some products from their first
month; each product they lack opens in any month, while they are engaged,
with a chance (the same every month, whatever went before) that its causes
raise: a savings account for the salaried, a term deposit from 50 or in a
higher tier, a credit card for the young salaried, a loan for salaried Mass
customers under 45, a mortgage for salaried customers of 28 to 40, insurance
from 45 (the wealth-minded hold it from the start), a fund for the
wealth-minded and those minded to insure or save. Customers without a fund
build up savings over a few months now and then, the wealth-minded most
often; a little over half of those episodes end in a fund, the others are
spent again. Every product also opens, more rarely, without its causes; no
profile is near-certain to open anything within 3 months.

Behaviour the tags read (analytics.tags): about half the customers are paid
a salary (from 60, a pension) every month, which stops as they disengage;
the others have irregular inflows. Term-deposit holders keep a share of
their deposits in term deposits; about one in six spends over twice as much
in holiday months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
from faker import Faker

from analytics import marts, rulebook, store
from analytics.schema import FUNNEL_STAGES, PRODUCTS

# code, name, English name, city, region, share of customers
BRANCHES: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("SH01", "上海陆家嘴支行", "Shanghai Lujiazui", "上海", "华东", 9),
    ("SH02", "上海徐家汇支行", "Shanghai Xujiahui", "上海", "华东", 7),
    ("SH03", "上海五角场支行", "Shanghai Wujiaochang", "上海", "华东", 4),
    ("HZ01", "杭州西湖支行", "Hangzhou West Lake", "杭州", "华东", 6),
    ("NJ01", "南京新街口支行", "Nanjing Xinjiekou", "南京", "华东", 5),
    ("SZ01", "苏州工业园区支行", "Suzhou Industrial Park", "苏州", "华东", 4),
    ("BJ01", "北京金融街支行", "Beijing Financial Street", "北京", "华北", 9),
    ("BJ02", "北京中关村支行", "Beijing Zhongguancun", "北京", "华北", 7),
    ("TJ01", "天津和平支行", "Tianjin Heping", "天津", "华北", 4),
    ("JN01", "济南泉城支行", "Jinan Quancheng", "济南", "华北", 3),
    ("QD01", "青岛市南支行", "Qingdao Shinan", "青岛", "华北", 3),
    ("GZ01", "广州天河支行", "Guangzhou Tianhe", "广州", "华南", 7),
    ("SZ02", "深圳福田支行", "Shenzhen Futian", "深圳", "华南", 8),
    ("SZ03", "深圳南山支行", "Shenzhen Nanshan", "深圳", "华南", 5),
    ("XM01", "厦门思明支行", "Xiamen Siming", "厦门", "华南", 2),
    ("CD01", "成都锦江支行", "Chengdu Jinjiang", "成都", "西部", 5),
    ("CQ01", "重庆解放碑支行", "Chongqing Jiefangbei", "重庆", "西部", 4),
    ("XA01", "西安高新支行", "Xi'an Hi-Tech Zone", "西安", "西部", 3),
    ("WH01", "武汉江汉支行", "Wuhan Jianghan", "武汉", "华中", 4),
    ("CS01", "长沙芙蓉支行", "Changsha Furong", "长沙", "华中", 2),
)

# The administrative-division code that starts a resident ID number.
CITY_DIVISION = {
    "上海": "310115", "杭州": "330106", "南京": "320106", "苏州": "320505", "北京": "110102",
    "天津": "120101", "济南": "370102", "青岛": "370202", "广州": "440106", "深圳": "440304",
    "厦门": "350203", "成都": "510104", "重庆": "500103", "西安": "610113", "武汉": "420103",
    "长沙": "430102",
}




# Campaign themes repeated each quarter: (name, product, channel)
CAMPAIGN_THEMES = (
    ("基金定投推广", "wealth_fund", "app"),
    ("信用卡新客礼", "credit_card", "wechat"),
    ("大额存单专享", "term_deposit", "branch"),
    ("保障型保险计划", "insurance", "rm_call"),
)


@dataclass(frozen=True)
class DemoSpec:
    customers: int = 20_000
    months: int = 24
    seed: int = 7
    end_month: dt.date | None = None  # a month-end; default: the last complete month

    def resolved_end_month(self) -> dt.date:
        if self.end_month is not None:
            return month_end(self.end_month)
        first_of_this_month = dt.date.today().replace(day=1)
        return first_of_this_month - dt.timedelta(days=1)

    def __post_init__(self):
        if self.customers < 100:
            raise ValueError("customers must be at least 100")
        if not 3 <= self.months <= 120:
            raise ValueError("months must lie between 3 and 120")


def month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def _name_pool(seed: int, size: int = 4000) -> list[tuple[int, str, str, str]]:
    """(index, gender, customer name, RM name) drawn by Faker zh_CN for this seed."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    pool = []
    for i in range(size):
        gender = "F" if i % 2 else "M"
        name = fake.name_female() if gender == "F" else fake.name_male()
        pool.append((i, gender, name, fake.name()))
    return pool


Progress = Callable[[str], None]


def generate(con: duckdb.DuckDBPyConnection, spec: DemoSpec, progress: Progress = lambda step: None) -> None:
    """Fill an empty, migrated store with demo data for `spec`."""
    end = spec.resolved_end_month()
    con.execute("SET VARIABLE seed = ?", [spec.seed])
    con.execute("SET VARIABLE n_customers = ?", [spec.customers])
    con.execute("SET VARIABLE n_months = ?", [spec.months])
    con.execute("SET VARIABLE end_month = ?", [end])
    for sql in _MACROS:
        con.execute(sql)

    progress("branches and relationship managers")
    con.executemany(
        "INSERT INTO branches VALUES (?, ?, ?, ?, ?, DATE '2008-01-01' + to_days(?))",
        [(code, name, name_en, city, region, (i * 211) % 3000) for i, (code, name, name_en, city, region, _) in enumerate(BRANCHES)],
    )
    total = sum(b[5] for b in BRANCHES)
    shares, lo = [], 0.0
    for code, *_, weight in BRANCHES:
        shares.append((code, lo, lo + weight / total, 5 + round(10 * (weight - 2) / 7), CITY_DIVISION[_city(code)]))
        lo += weight / total
    con.execute("CREATE TEMP TABLE branch_share (branch_code VARCHAR, lo DOUBLE, hi DOUBLE, n_rms INTEGER, division VARCHAR)")
    con.executemany("INSERT INTO branch_share VALUES (?, ?, ?, ?, ?)", shares)
    con.execute("UPDATE branch_share SET hi = 1.0000001 WHERE hi = (SELECT max(hi) FROM branch_share)")
    con.execute("CREATE TEMP TABLE name_pool (idx INTEGER, gender VARCHAR, name VARCHAR, rm_name VARCHAR)")
    con.executemany("INSERT INTO name_pool VALUES (?, ?, ?, ?)", _name_pool(spec.seed))
    for sql in _STEPS_RMS_CUSTOMERS:
        con.execute(sql)

    progress("accounts")
    con.execute(_ACCOUNTS, [list(PRODUCTS), list(PRODUCTS)])
    progress("monthly balances")
    con.execute(_MONTHLY)
    progress("interactions")
    con.execute(_INTERACTIONS)
    progress("campaigns and funnel")
    con.executemany(
        "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?)",
        _campaigns(end, spec.months),
    )
    con.execute(_FUNNEL, [list(FUNNEL_STAGES), list(FUNNEL_STAGES)])
    progress("surveys")
    con.execute(_SURVEYS)
    progress("complaints")
    con.execute(_COMPLAINTS)
    con.execute("DROP TABLE cust")


def build_store(path, spec: DemoSpec, progress: Progress = lambda step: None) -> None:
    """Replace the store at `path` with a freshly generated one, marts included, atomically."""
    with store.rewrite(path, fresh=True) as con:
        generate(con, spec, progress)
        progress("marts")
        marts.rebuild(con, rules=rulebook.in_force(path))


def _city(code: str) -> str:
    return next(b[3] for b in BRANCHES if b[0] == code)


def _campaigns(end: dt.date, months: int) -> list[tuple]:
    """Four campaigns each quarter of the window, each running two months."""
    last = end.year * 12 + end.month - 1
    rows = []
    for index in range(last - months + 1, last):
        year, month0 = divmod(index, 12)
        if month0 % 3:
            continue
        starts = dt.date(year, month0 + 1, 1)
        ends = month_end(dt.date(*divmod(index + 1, 12)[:1], (index + 1) % 12 + 1, 1))
        for k, (name, product, channel) in enumerate(CAMPAIGN_THEMES):
            rows.append((f"C{year}Q{month0 // 3 + 1}-{k + 1}", f"{year}Q{month0 // 3 + 1} {name}", product, channel, starts, ends))
    return rows


# --- SQL --------------------------------------------------------------------
# u(a, b, salt): a uniform draw in [0, 1) for entity a, period b, purpose salt.
# ui(a, b, salt, n): a uniform whole number in [0, n).
# z(a, b, salt): a standard normal draw (Box-Muller on two uniforms).
_MACROS = (
    "CREATE OR REPLACE TEMP MACRO u(a, b, salt) AS "
    "hash(a, b, salt, getvariable('seed'))::DOUBLE / 18446744073709551616.0",
    "CREATE OR REPLACE TEMP MACRO ui(a, b, salt, n) AS floor(u(a, b, salt) * n)::INTEGER",
    "CREATE OR REPLACE TEMP MACRO z(a, b, salt) AS "
    "sqrt(-2 * ln(1 - u(a, b, salt))) * cos(2 * pi() * u(a, b, salt || '#2'))",
    "CREATE OR REPLACE TEMP MACRO month_at(t) AS "
    "last_day(getvariable('end_month') - to_months(getvariable('n_months') - 1 - t))",
    # gap(id, k, monthly): the months that pass before a chance of `monthly` a month comes true (for purpose k):
    # the same chance every month, whatever went before; after(...): the month it comes true, after `start`
    "CREATE OR REPLACE TEMP MACRO gap(id, k, monthly) AS floor(ln(1 - u(id, k, 'when')) / ln(1 - monthly))::INTEGER",
    "CREATE OR REPLACE TEMP MACRO after(id, k, start, monthly) AS start + 1 + gap(id, k, monthly)",
    # opens(...): the month product k opens: with the customer when `held`, else the first month in which a
    # chance of `monthly` a month comes true while the customer is engaged (NULL: not before they disengage).
    # It may come after the window: the store has not seen it yet, though the balances may show it coming.
    "CREATE OR REPLACE TEMP MACRO opens(id, k, open_t, disengage_t, held, monthly) AS "
    "CASE WHEN held THEN open_t WHEN after(id, k, greatest(open_t, 0), monthly) < disengage_t "
    "THEN after(id, k, greatest(open_t, 0), monthly) END",
)

_STEPS_RMS_CUSTOMERS = (
    # Relationship managers: 5 to 15 a branch, by branch size.
    """
    INSERT INTO relationship_managers
    SELECT b.branch_code || '-RM' || lpad((r.i + 1)::VARCHAR, 2, '0'),
           b.branch_code,
           p.rm_name,
           DATE '2012-01-01' + to_days(ui(r.i, 0, b.branch_code, 4000))
    FROM branch_share b
    CROSS JOIN LATERAL (SELECT range AS i FROM range(b.n_rms)) r
    JOIN name_pool p ON p.idx = (hash(b.branch_code, r.i, getvariable('seed')) % 4000)::INTEGER
    """,
    # Per-customer latent traits. t indices count months from the window's
    # start (0) to its end (n_months - 1); negative means before the window.
    """
    CREATE TEMP TABLE cust AS
    WITH base AS (
        SELECT 6200000000 + range AS customer_id,
               u(range, 0, 'branch') AS u_branch,
               u(range, 0, 'tier') AS u_tier,
               u(range, 0, 'aum') AS u_aum,
               u(range, 0, 'age') AS u_age,
               u(range, 0, 'digital') AS u_digital,
               u(range, 0, 'new') AS u_new,
               u(range, 0, 'dormant') AS u_dormant
        FROM range(getvariable('n_customers'))
    ), placed AS (
        SELECT base.*, b.branch_code, b.n_rms, b.division,
               CASE WHEN u_tier < 0.815 THEN 0 WHEN u_tier < 0.957 THEN 1
                    WHEN u_tier < 0.9965 THEN 2 ELSE 3 END AS tier0
        FROM base JOIN branch_share b ON u_branch >= b.lo AND u_branch < b.hi
    ), traits AS (
        SELECT *,
               -- log-uniform within the tier's band, inside its 3-month-average cut-offs
               exp(CASE tier0 WHEN 0 THEN ln(300) + u_aum * (ln(42000) - ln(300))
                              WHEN 1 THEN ln(60000) + u_aum * (ln(420000) - ln(60000))
                              WHEN 2 THEN ln(600000) + u_aum * (ln(5000000) - ln(600000))
                              ELSE ln(7000000) + u_aum * (ln(40000000) - ln(7000000)) END) AS aum0,
               (22 + u_age * 50 + tier0 * 4)::INTEGER AS age,
               greatest(0.02, least(0.98, u_digital * 1.2 - u_age * 0.45 + 0.15)) AS digital,
               CASE WHEN u_new < 0.28 THEN ui(customer_id, 0, 'open', getvariable('n_months'))
                    ELSE -(6 + ui(customer_id, 0, 'open', 200)) END AS open_t,
               u_dormant < 0.05 AS quiet,
               -- minded to put savings into wealth products: insurance now, a fund to come
               u(customer_id, 0, 'wealthy') < [0.05, 0.45, 0.5, 0.5][tier0 + 1] AS wealth_minded
        FROM placed
    ), products AS (
        SELECT *,
               u(customer_id, 0, 'savings') < 0.60 AS has_savings,
               u(customer_id, 0, 'term') < 0.15 + tier0 * 0.15 + (age > 50)::INT * 0.15 AS has_term,
               u(customer_id, 0, 'fund') < CASE WHEN wealth_minded THEN 0.95 ELSE [0.08, 0.45, 0.75, 0.90][tier0 + 1] END
                 AS has_fund,
               u(customer_id, 0, 'card') < 0.55 - age * 0.004 + digital * 0.2 AS has_card,
               u(customer_id, 0, 'loan') < 0.08 AS has_loan,
               u(customer_id, 0, 'mortgage') < (age BETWEEN 28 AND 55)::INT * 0.22 AS has_mortgage,
               wealth_minded OR u(customer_id, 0, 'insurance') < [0.08, 0.25, 0.45, 0.60][tier0 + 1] AS has_insurance
        FROM traits
    ), risk AS (
        SELECT *,
               1 + has_savings::INT + has_term::INT + has_fund::INT + has_card::INT
                 + has_loan::INT + has_mortgage::INT + has_insurance::INT AS n_products
        FROM products
    ), hazard AS (
        SELECT *,
               least(0.2, 0.0105
                 * CASE WHEN n_products = 1 THEN 3.4 WHEN n_products >= 4 THEN 0.45
                        WHEN n_products = 3 THEN 0.75 ELSE 1 END
                 * CASE WHEN digital < 0.2 THEN 1.5 ELSE 1 END
                 * CASE WHEN age < 30 THEN 1.3 ELSE 1 END
                 * [1.0, 0.8, 0.6, 0.45][tier0 + 1]
                 * CASE WHEN quiet THEN 1.4 ELSE 1 END) AS h
        FROM risk
    ), timing AS (
        SELECT *,
               greatest(open_t, -3)
                 + floor(ln(1 - u(customer_id, 0, 'disengage')) / ln(1 - h))::INTEGER AS disengage_t,
               1 + ui(customer_id, 0, 'lead', 3) AS lead_months,
               u(customer_id, 0, 'drain') < 0.15 AS drains
        FROM hazard
    )
    , leaving AS (
    SELECT *,
           disengage_t + lead_months AS leave_t,
           (hash(customer_id, 'rm', getvariable('seed')) % n_rms)::INTEGER AS rm_index,
           0.0015 + 0.006 * z(customer_id, 0, 'trend') AS trend,
           (CASE WHEN quiet THEN 0.15 ELSE (3 + 25 * digital + 4 * tier0) * (0.5 + u(customer_id, 0, 'txn')) END) AS txn_rate,
           0.15 + 0.45 * u(customer_id, 0, 'inv') AS inv_share,
           CASE WHEN wealth_minded THEN 0.27 + 0.11 * u(customer_id, 0, 'ins')
                ELSE 0.04 + 0.12 * u(customer_id, 0, 'ins') END AS ins_share,
           0.25 + 0.7 * u(customer_id, 0, 'tdshare') AS td_share,
           -- a salary (or, from 60, a pension) paid in every month: the regular inflow of a salary account
           u(customer_id, 0, 'salaried') < CASE WHEN age < 60 THEN 0.55 ELSE 0.4 END AS salaried,
           (4000 + 26000 * u(customer_id, 0, 'salary')) * (1 + 0.6 * tier0) AS salary,
           u(customer_id, 0, 'holiday') < 0.18 AS holiday_spender,
           month_at(open_t) - to_days(ui(customer_id, 0, 'openday', 27)) AS opened_on
    FROM timing
    )
    -- Savings episodes: a customer without a fund builds up savings over 2 to 4 months (by 20% to 60%), most
    -- often the wealth-minded and those already minded to insure or keep term deposits, one episode after the
    -- other. A little over half end in a fund (the money stays, invested), the others are spent over 2 months;
    -- none comes after the fund.
    , saver AS (
    SELECT *,
           CASE WHEN wealth_minded THEN 0.12 WHEN has_insurance OR (has_term AND td_share > 0.6) THEN 0.005
                ELSE 0.002 END AS saving_rate
    FROM leaving
    ), episodes AS (
    SELECT *,
           list_transform(range(4), lambda i: greatest(open_t, 0) + i + 1 + list_sum(list_transform(range(i + 1),
               lambda j: gap(customer_id, 41 + j, saving_rate)))::INTEGER) AS save_ends,
           list_transform(range(4), lambda i: 2 + ui(customer_id, 41 + i, 'len', 3)) AS save_months,
           list_transform(range(4), lambda i: 0.2 + 0.4 * u(customer_id, 41 + i, 'gain')) AS save_gain,
           list_transform(range(4), lambda i: u(customer_id, 41 + i, 'kept') < 0.55) AS save_kept
    FROM saver
    )
    -- The month each product opens (NULL: never held): with the customer, or later, while engaged, with a
    -- chance each month that its causes raise, so that a model can learn them but never be sure. A fund
    -- follows a savings episode kept (its savings rose first), or comes at any time, above all to the
    -- wealth-minded and to customers already minded to insure or save; a savings account comes to the
    -- salaried; a term deposit from 50 and to customers of a higher tier; a credit card to the young with a
    -- salary (and a little more to the digital); a loan to salaried Mass customers under 45; a mortgage to
    -- salaried customers of 28 to 40; insurance from 45 (the wealth-minded hold it from their first month).
    -- Every product also opens, more rarely, without its causes.
    SELECT *,
           opens(customer_id, 2, open_t, disengage_t, has_savings AND u(customer_id, 2, 'late') >= 0.25,
                 CASE WHEN salaried THEN 0.035 ELSE 0.006 END) AS savings_t,
           opens(customer_id, 3, open_t, disengage_t, has_term AND u(customer_id, 3, 'late') >= 0.25,
                 CASE WHEN age > 50 OR tier0 > 0 THEN 0.025 ELSE 0.003 END) AS term_t,
           least(opens(customer_id, 4, open_t, disengage_t,
                       has_fund AND u(customer_id, 4, 'late') >= CASE WHEN wealth_minded THEN 0.95
                           WHEN has_insurance OR (has_term AND td_share > 0.6) THEN 0.65 ELSE 0.3 END,
                       CASE WHEN wealth_minded THEN 0.005 WHEN has_insurance OR (has_term AND td_share > 0.6) THEN 0.004
                            ELSE 0.0015 END),
                 -- episodes come after the customer's first month: a fund held from then stays first
                 list_min(list_filter(save_ends, lambda e, i: save_kept[i] AND e < disengage_t))) AS fund_t,
           opens(customer_id, 5, open_t, disengage_t,
                 has_card AND u(customer_id, 5, 'late') >= CASE WHEN salaried AND age < 35 THEN 0.8 ELSE 0.15 END,
                 CASE WHEN salaried AND age < 35 THEN 0.05 ELSE 0.003 END + 0.012 * digital) AS card_t,
           opens(customer_id, 6, open_t, disengage_t, has_loan AND u(customer_id, 6, 'late') >= 0.33,
                 CASE WHEN salaried AND age < 45 AND tier0 = 0 THEN 0.012 ELSE 0.002 END) AS loan_t,
           opens(customer_id, 7, open_t, disengage_t,
                 has_mortgage AND u(customer_id, 7, 'late') >= CASE WHEN salaried AND age BETWEEN 28 AND 40 THEN 0.6
                                                                    ELSE 0.15 END,
                 CASE WHEN salaried AND age BETWEEN 28 AND 40 THEN 0.02 ELSE 0.001 END) AS mortgage_t,
           opens(customer_id, 8, open_t, disengage_t,
                 wealth_minded
                   OR (has_insurance AND u(customer_id, 8, 'late') >= CASE WHEN age >= 45 THEN 0.5 ELSE 0.2 END),
                 CASE WHEN age >= 45 THEN 0.01 ELSE 0.0015 END) AS insurance_t
    FROM episodes
    """,
    """
    INSERT INTO customers
    SELECT c.customer_id,
           c.branch_code,
           c.branch_code || '-RM' || lpad((c.rm_index + 1)::VARCHAR, 2, '0'),
           p.name,
           p.gender,
           getvariable('end_month') - to_days((c.age * 365.25 + u(c.customer_id, 0, 'bday') * 365)::INTEGER),
           '1' || ['3', '5', '7', '8', '9'][1 + (hash(c.customer_id, 'ph1', getvariable('seed')) % 5)::INTEGER]
               || lpad((hash(c.customer_id, 'ph2', getvariable('seed')) % 1000000000)::VARCHAR, 9, '0'),
           NULL,
           (SELECT city FROM branches b WHERE b.branch_code = c.branch_code),
           c.opened_on,
           CASE WHEN c.leave_t < getvariable('n_months') AND NOT c.drains THEN month_at(c.leave_t) - to_days(3) END,
           CASE WHEN c.leave_t < getvariable('n_months') AND NOT c.drains THEN 'closed' ELSE 'active' END
    FROM cust c
    JOIN name_pool p ON p.idx = (hash(c.customer_id, 'name', getvariable('seed')) % 4000)::INTEGER
    """,
    # Resident ID number: division, birth date, sequence (odd for men), check digit.
    """
    UPDATE customers SET id_number = body || substr('10X98765432', 1 + (list_sum(list_transform(range(17),
        lambda i: substr(body, i + 1, 1)::INTEGER * [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2][i + 1])) % 11)::INTEGER, 1)
    FROM (
        SELECT c.customer_id AS cid,
               b.division || strftime(c2.birth_date, '%Y%m%d')
                 || lpad(((hash(c.customer_id, 'seq', getvariable('seed')) % 499) * 2
                          + CASE WHEN c2.gender = 'M' THEN 1 ELSE 0 END)::VARCHAR, 3, '0') AS body
        FROM cust c JOIN branch_share b USING (branch_code) JOIN customers c2 USING (customer_id)
    ) ids
    WHERE customers.customer_id = ids.cid
    """,
)

# Accounts: one per product held, opened in the month cust says (the current
# account with the customer). Closing customers close everything in their last month.
_ACCOUNTS = """
INSERT INTO accounts
WITH held AS (
    SELECT c.customer_id, c.opened_on, c.open_t, c.leave_t, c.drains, p.product, p.k,
           CASE p.product WHEN 'current' THEN c.open_t WHEN 'savings' THEN c.savings_t WHEN 'term_deposit' THEN c.term_t
                WHEN 'wealth_fund' THEN c.fund_t WHEN 'credit_card' THEN c.card_t WHEN 'loan' THEN c.loan_t
                WHEN 'mortgage' THEN c.mortgage_t ELSE c.insurance_t END AS product_t
    FROM cust c
    CROSS JOIN (SELECT unnest(?) AS product, generate_subscripts(?, 1) AS k) p
), dated AS (
    SELECT *,
        CASE WHEN product_t = open_t THEN opened_on
             ELSE greatest(opened_on, month_at(product_t) - to_days(ui(customer_id, k, 'day', 25))) END AS acct_opened_on
    FROM held
    WHERE product_t < getvariable('n_months')
)
SELECT customer_id * 10 + k,
       customer_id,
       product,
       acct_opened_on,
       CASE WHEN leave_t < getvariable('n_months') AND NOT drains
            THEN greatest(acct_opened_on, month_at(leave_t) - to_days(3)) END,
       CASE WHEN product = 'term_deposit'
            THEN getvariable('end_month') - to_days(180) + to_days(ui(customer_id, k, 'mat', 540)) END
FROM dated
"""

# Month-end balances from the customer's first month to the month they
# leave (closers) or to the end of the window (everyone else).
_MONTHLY = """
INSERT INTO monthly_balances
WITH rows AS (
    SELECT c.*, m.t,
           m.t >= c.disengage_t AS disengaged,
           greatest(0, m.t - c.disengage_t + 1) AS months_disengaged,
           month(month_at(m.t)) AS cal_month,
           coalesce(m.t >= c.fund_t, false) AS fund_now,
           coalesce(m.t >= c.insurance_t, false) AS insurance_now,
           coalesce(m.t >= c.term_t, false) AS term_now,
           coalesce(m.t >= c.mortgage_t, false) AS mortgage_now,
           coalesce(m.t >= c.loan_t, false) AS loan_now
    FROM cust c
    JOIN (SELECT range AS t FROM range(getvariable('n_months'))) m
      ON m.t >= greatest(c.open_t, 0)
     AND (m.t <= c.leave_t OR c.drains)
), shaped AS (
    SELECT *,
           CASE WHEN t >= leave_t AND drains THEN 20 + u(customer_id, t, 'dust') * 70
                WHEN t >= leave_t THEN 0
                ELSE aum0
                     * exp(trend * (t - greatest(open_t, 0)) + 0.05 * z(customer_id, t, 'aum'))
                     * CASE cal_month WHEN 1 THEN 1.04 WHEN 2 THEN 0.97 WHEN 6 THEN 1.02 WHEN 12 THEN 1.03 ELSE 1 END
                     * pow(0.62 + 0.2 * u(customer_id, 0, 'decay'), months_disengaged)
                     -- savings episodes before the fund: savings rise over the episode's months, then stay
                     -- (kept: in the fund) or are spent
                     * list_product(list_transform(save_ends, lambda e, i: CASE WHEN e > fund_t THEN 1 ELSE
                           1 + save_gain[i] * least(1, greatest(0, (t - e + save_months[i]) / save_months[i]))
                             * CASE WHEN t <= e OR save_kept[i] THEN 1 ELSE greatest(0, 1 - (t - e) / 2) END END))
           END AS aum,
           CASE WHEN t >= leave_t THEN 0
                ELSE greatest(0, round(txn_rate
                     * CASE cal_month WHEN 2 THEN 1.25 WHEN 11 THEN 1.15 WHEN 12 THEN 1.1 ELSE 1 END
                     * pow(0.3, months_disengaged)
                     * (0.6 + 0.8 * u(customer_id, t, 'txn')) - 0.4))::INTEGER
           END AS txns,
           1 - CASE WHEN fund_now THEN inv_share ELSE 0 END - CASE WHEN insurance_now THEN ins_share ELSE 0 END AS deposit_share
    FROM rows
)
SELECT customer_id,
       month_at(t),
       round(aum * deposit_share, 2),
       round(aum * CASE WHEN fund_now THEN inv_share ELSE 0 END, 2),
       round(aum * CASE WHEN insurance_now THEN ins_share ELSE 0 END, 2),
       CASE WHEN t >= leave_t THEN 0 ELSE round(
            CASE WHEN mortgage_now THEN (400000 + 1600000 * u(customer_id, 0, 'mtg')) * greatest(0.2, 1 - 0.004 * (t - mortgage_t)) ELSE 0 END
          + CASE WHEN loan_now THEN (20000 + 280000 * u(customer_id, 0, 'loan_amt')) * greatest(0.1, 1 - 0.02 * (t - loan_t)) ELSE 0 END, 2) END,
       txns,
       round(txns * (150 + least(aum, 5000000) * 0.004) * (0.5 + u(customer_id, t, 'ticket'))
             * CASE WHEN holiday_spender AND cal_month IN (1, 2, 5, 10) THEN 2.2 ELSE 1 END, 2),
       CASE WHEN t >= leave_t THEN 0 ELSE greatest(0, round(
            digital * 30 * pow(0.35, months_disengaged) * (0.6 + 0.8 * u(customer_id, t, 'login')) - 1))::INTEGER END,
       CASE WHEN txns > 0 THEN month_at(t) - to_days(ui(customer_id, t, 'lastday', 10)
                                                 + CASE WHEN txns < 3 THEN 12 ELSE 0 END) END,
       round(CASE WHEN term_now THEN aum * deposit_share * td_share ELSE 0 END, 2),
       CASE WHEN t >= leave_t THEN 0
            WHEN salaried THEN round(salary * (1 + 0.03 * z(customer_id, t, 'pay')) * pow(0.3, months_disengaged), 2)
            WHEN u(customer_id, t, 'inflow') < 0.45 THEN 0
            ELSE round(least(aum, 2000000) * 0.08 * exp(z(customer_id, t, 'lump')), 2) END
FROM shaped
"""

_INTERACTIONS = """
INSERT INTO interactions
WITH slots AS (
    SELECT mb.customer_id, mb.month, c.branch_code, c.rm_index, c.disengage_t, s.k,
           [0.04, 0.25, 0.7, 1.6][c.tier0 + 1] AS rate
    FROM monthly_balances mb
    JOIN cust c USING (customer_id)
    CROSS JOIN (SELECT range AS k FROM range(3)) s
)
SELECT row_number() OVER (ORDER BY customer_id, month, k),
       customer_id,
       branch_code || '-RM' || lpad((rm_index + 1)::VARCHAR, 2, '0'),
       ['care_call', 'visit', 'message', 'wechat'][1 + (hash(customer_id, month, k, 'kind') % 4)::INTEGER],
       ['phone', 'branch', 'app', 'wechat'][1 + (hash(customer_id, month, k, 'kind') % 4)::INTEGER],
       month - to_days(ui(customer_id, k, month::VARCHAR, 27)) + to_seconds(32400 + ui(customer_id, k, 'hour', 32400)),
       NULL
FROM slots
WHERE u(customer_id, k, month::VARCHAR || 'i') < rate - k
"""

# Each campaign reaches about 4% of the customers active when it starts.
# A lead moves through the stages with a chance per step; timestamps add a
# few days a step.
_FUNNEL = """
INSERT INTO funnel_events
WITH leads AS (
    SELECT row_number() OVER (ORDER BY cp.campaign_id, mb.customer_id) AS lead_id,
           cp.campaign_id, cp.product, cp.channel, cp.starts_on, mb.customer_id, c.tier0, c.digital,
           c.branch_code || '-RM' || lpad((c.rm_index + 1)::VARCHAR, 2, '0') AS rm_id
    FROM campaigns cp
    JOIN monthly_balances mb ON mb.month = last_day(cp.starts_on)
    JOIN cust c ON c.customer_id = mb.customer_id
    WHERE u(mb.customer_id, 0, cp.campaign_id) < 0.04 * CASE cp.product
            WHEN 'wealth_fund' THEN 0.6 + c.tier0 * 0.6 ELSE 1 END
), depth AS (
    SELECT *,
           CASE WHEN u(lead_id, 1, 'f') >= 0.78 + 0.1 * (channel = 'rm_call')::INT THEN 1
                WHEN u(lead_id, 2, 'f') >= 0.55 THEN 2
                WHEN u(lead_id, 3, 'f') >= 0.45 + 0.1 * tier0 + 0.1 * (channel = 'app' AND digital > 0.5)::INT THEN 3
                WHEN u(lead_id, 4, 'f') >= 0.80 THEN 4
                WHEN u(lead_id, 5, 'f') >= 0.85 THEN 5
                ELSE 6 END AS reached
    FROM leads
), staged AS (
    SELECT d.lead_id, d.campaign_id, d.customer_id, d.rm_id, s.stage, s.n, d.starts_on,
           CASE WHEN s.n = 1 THEN u(d.lead_id, 0, 'start') * 20 * 86400
                ELSE (0.5 + u(d.lead_id, s.n, 'gap') * [0, 3, 6, 10, 4, 5][s.n]) * 86400 END AS gap_s
    FROM depth d
    JOIN (SELECT unnest(?) AS stage, generate_subscripts(?, 1) AS n) s ON s.n <= d.reached
)
SELECT lead_id, campaign_id, customer_id, rm_id, stage,
       starts_on::TIMESTAMP + to_seconds(sum(gap_s) OVER (PARTITION BY lead_id ORDER BY n)::BIGINT)
FROM staged
"""

_SURVEYS = """
INSERT INTO surveys
WITH picked AS (
    SELECT mb.customer_id, mb.month, c.tier0, c.disengage_t, c.digital,
           datediff('month', month_at(0), mb.month) AS t
    FROM monthly_balances mb JOIN cust c USING (customer_id)
    WHERE u(mb.customer_id, 0, mb.month::VARCHAR || 's') < 0.07
      AND mb.txn_count + mb.digital_logins > 0
), scored AS (
    SELECT *,
           greatest(0, least(10, round(7.6 + 0.4 * tier0 - 3.2 * (t >= disengage_t)::INT
                                       + 1.9 * z(customer_id, t, 'nps'))))::INTEGER AS nps_score,
           CASE WHEN u(customer_id, t, 'tp') < digital * 0.7 THEN 'mobile_app'
                ELSE ['branch_counter', 'call_center', 'relationship_manager', 'atm'][1 + (hash(customer_id, t, 'tp2') % 4)::INTEGER] END AS touchpoint
    FROM picked
)
SELECT row_number() OVER (ORDER BY customer_id, month),
       customer_id,
       month - to_days(ui(customer_id, t, 'sday', 27)) + to_seconds(36000 + ui(customer_id, t, 'sh', 30000)),
       touchpoint,
       CASE touchpoint WHEN 'mobile_app' THEN 'app' WHEN 'call_center' THEN 'phone'
                       WHEN 'relationship_manager' THEN 'wechat' ELSE 'branch' END,
       CASE WHEN u(customer_id, t, 'asknps') < 0.6 THEN nps_score END,
       greatest(1, least(5, round(1.2 + nps_score * 0.38 + 0.6 * z(customer_id, t, 'csat'))))::INTEGER
FROM scored
"""

# Complaints: rare while engaged, six times as frequent once disengaged,
# and then often left open past their SLA.
_COMPLAINTS = """
INSERT INTO complaints
WITH picked AS (
    SELECT mb.customer_id, mb.month, c.disengage_t, c.leave_t,
           datediff('month', month_at(0), mb.month) AS t
    FROM monthly_balances mb JOIN cust c USING (customer_id)
), opened AS (
    SELECT *,
           t >= disengage_t AS disengaged,
           ['fees', 'service', 'system', 'wealth_product', 'card', 'loan', 'waiting'][1 + (hash(customer_id, t, 'cat') % 7)::INTEGER] AS category,
           CASE WHEN u(customer_id, t, 'sev') < 0.15 THEN 'high' WHEN u(customer_id, t, 'sev') < 0.55 THEN 'medium' ELSE 'low' END AS severity,
           month - to_days(ui(customer_id, t, 'cday', 27)) + to_seconds(32400 + ui(customer_id, t, 'ch', 36000)) AS opened_at
    FROM picked
    WHERE u(customer_id, t, 'complaint') < 0.006 * CASE WHEN t >= disengage_t AND t <= leave_t THEN 7 ELSE 1 END
), timed AS (
    SELECT *,
           CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 7 ELSE 15 END AS sla,
           CASE WHEN disengaged AND u(customer_id, t, 'stuck') < 0.45 THEN NULL
                ELSE -ln(1 - u(customer_id, t, 'res')) * CASE severity WHEN 'high' THEN 1.6 WHEN 'medium' THEN 3.5 ELSE 7 END
                     * CASE WHEN disengaged THEN 2.2 ELSE 1 END END AS days_to_resolve
    FROM opened
)
SELECT row_number() OVER (ORDER BY customer_id, opened_at),
       customer_id, category, severity,
       ['branch', 'phone', 'app', 'regulator'][1 + (hash(customer_id, t, 'cch') % 4)::INTEGER],
       opened_at,
       CASE WHEN days_to_resolve IS NOT NULL
             AND opened_at + to_seconds((days_to_resolve * 86400)::BIGINT) <= getvariable('end_month')::TIMESTAMP + INTERVAL 1 DAY
            THEN opened_at + to_seconds((days_to_resolve * 86400)::BIGINT) END,
       sla
FROM timed
"""
