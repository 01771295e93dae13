"""A store of three customers, small enough to work every figure out by hand.

Window: January to July 2024 (month-ends).
- Customer 1 (SH01): AUM 1,000 in January rising by 1,000 a month to 7,000 in
  July; a current account since 2023-06-15 and a fund from 2024-02-10;
  transactions in January (last on the 20th) and April (last on the 28th);
  a complaint resolved in May and one open since 1 July; NPS 9 in March, 3 in June.
- Customer 2 (BJ01): AUM 500, 400, 0 from January to March; the only account
  closes on 2024-03-10, so the customer churns in March. NPS 10 in February.
- Customer 3 (BJ01): AUM 50 every month; the last transaction on 2024-01-05,
  so the customer is dormant 180 days with AUM under 100 at the end of July.

Campaigns and leads (the funnel):
- C1 (wealth_fund, app, Jan-Mar): lead 101 (customer 1) goes all the way,
  lead on 5 Jan, contacted 7 Jan, qualified 10 Jan, applied 15 Jan, approved
  20 Jan, activated 1 Feb; lead 102 (customer 2) stops at qualified (10, 12,
  20 Jan); lead 103 (customer 3) is a lead on 3 Feb and nothing more.
- C2 (term_deposit, branch, Apr-Jun): lead 104 (customer 1) stops at approved
  (2, 3, 5, 9, 12 Apr); lead 105 (customer 3) has no "qualified" event but
  reaches activated (lead 1 May, contacted 2, applied 6, approved 8,
  activated 10 May), so it counts as qualified too.
Interactions: customer 1 had a care call on 1 Mar (phone) and a visit on
15 Jun (branch); customer 3 a message on 1 Feb (app).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics import marts, store
from analytics.schema import FUNNEL_STAGES

MONTHS = ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31"]


def build(path: Path) -> Path:
    with store.rewrite(path, fresh=True) as con:
        fill(con)
        marts.rebuild(con)
    return path


def fill(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""INSERT INTO branches VALUES
        ('SH01', '上海陆家嘴支行', 'Shanghai Lujiazui', '上海', '华东', NULL),
        ('BJ01', '北京金融街支行', 'Beijing Financial Street', '北京', '华北', NULL)""")
    con.execute("""INSERT INTO relationship_managers VALUES
        ('SH01-RM01', 'SH01', '王经理', NULL), ('BJ01-RM01', 'BJ01', '李经理', NULL)""")
    con.execute("""INSERT INTO customers VALUES
        (1, 'SH01', 'SH01-RM01', '张伟', 'M', '1980-05-01', '13812345678', '310115198005011234', '上海', '2023-06-15', NULL, 'active'),
        (2, 'BJ01', 'BJ01-RM01', '李娜', 'F', '1990-02-03', '13900001111', '110102199002031221', '北京', '2023-01-01', NULL, 'active'),
        (3, 'BJ01', 'BJ01-RM01', '王芳', 'F', '1975-09-09', '13700002222', '110102197509091240', '北京', '2022-01-01', NULL, 'active')""")
    con.execute("""INSERT INTO accounts VALUES
        (11, 1, 'current', '2023-06-15', NULL, NULL),
        (12, 1, 'wealth_fund', '2024-02-10', NULL, NULL),
        (21, 2, 'current', '2023-01-01', '2024-03-10', NULL),
        (31, 3, 'current', '2022-01-01', NULL, NULL)""")
    txns_1 = {0: (5, "2024-01-20"), 3: (3, "2024-04-28")}
    for i, month in enumerate(MONTHS):
        count, last = txns_1.get(i, (0, None))
        con.execute("INSERT INTO monthly_balances VALUES (1, ?, ?, 0, 0, 0, ?, ?, 2, ?, NULL, NULL)",
                    [month, 1000.0 * (i + 1), count, 100.0 * count, last])
        con.execute("INSERT INTO monthly_balances VALUES (3, ?, 50, 0, 0, 0, ?, 0, 0, ?, NULL, NULL)",
                    [month, 1 if i == 0 else 0, "2024-01-05" if i == 0 else None])
    for month, aum in zip(MONTHS[:3], (500.0, 400.0, 0.0)):
        con.execute("INSERT INTO monthly_balances VALUES (2, ?, ?, 0, 0, 0, 1, 10, 0, NULL, NULL, NULL)", [month, aum])
    con.execute("""INSERT INTO complaints VALUES
        (1, 1, 'fees', 'low', 'branch', '2024-05-01 10:00', '2024-05-03 10:00', 15),
        (2, 1, 'system', 'medium', 'app', '2024-07-01 09:00', NULL, 7)""")
    con.execute("""INSERT INTO surveys VALUES
        (1, 1, '2024-03-05 10:00', 'branch_counter', 'branch', 9, 5),
        (2, 1, '2024-06-10 10:00', 'mobile_app', 'app', 3, 2),
        (3, 2, '2024-02-11 10:00', 'call_center', 'phone', 10, 4),
        (4, 3, '2024-06-20 10:00', 'atm', 'branch', NULL, 3)""")
    con.execute("""INSERT INTO campaigns VALUES
        ('C1', '基金定投推广', 'wealth_fund', 'app', '2024-01-01', '2024-03-31'),
        ('C2', '大额存单专享', 'term_deposit', 'branch', '2024-04-01', '2024-06-30')""")
    leads = {
        (101, "C1", 1, "SH01-RM01"): ("2024-01-05", "2024-01-07", "2024-01-10", "2024-01-15", "2024-01-20", "2024-02-01"),
        (102, "C1", 2, "BJ01-RM01"): ("2024-01-10", "2024-01-12", "2024-01-20", None, None, None),
        (103, "C1", 3, "BJ01-RM01"): ("2024-02-03", None, None, None, None, None),
        (104, "C2", 1, "SH01-RM01"): ("2024-04-02", "2024-04-03", "2024-04-05", "2024-04-09", "2024-04-12", None),
        (105, "C2", 3, "BJ01-RM01"): ("2024-05-01", "2024-05-02", None, "2024-05-06", "2024-05-08", "2024-05-10"),
    }
    for (lead_id, campaign_id, customer_id, rm_id), days in leads.items():
        for stage, day in zip(FUNNEL_STAGES, days):
            if day:
                con.execute("INSERT INTO funnel_events VALUES (?, ?, ?, ?, ?, ?)",
                            [lead_id, campaign_id, customer_id, rm_id, stage, f"{day} 10:00"])
    con.execute("""INSERT INTO interactions VALUES
        (1001, 1, 'SH01-RM01', 'care_call', 'phone', '2024-03-01 10:00', 'asked about fund fees'),
        (1002, 1, 'SH01-RM01', 'visit', 'branch', '2024-06-15 14:00', NULL),
        (1003, 3, 'BJ01-RM01', 'message', 'app', '2024-02-01 09:00', NULL)""")
