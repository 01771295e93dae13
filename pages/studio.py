"""Segment studio: tune the rules, see their effect at once, save versions, compare them, and adopt one
by maker-checker (an analyst proposes, an admin approves)."""

import plotly.express as px
import streamlit as st

from analytics import format as fmt
from analytics import permissions, segments
from analytics.filters import period
from analytics.rulebook import Refused, RuleBook
from analytics.rules import ALL_TIERS, PARTS, InvalidRules, RuleSet, differences
from analytics.state import StateStore
from ui import guard, metrics, theme
from ui.cache import active_rules, compute, filter_options, follow_rules, session_scope, what_if
from ui.charts import chart, migration
from ui.filters import current
from ui.i18n import lang, message, t, term
from ui.tables import table

guard.page("studio")

MOVERS = 1000
KEY_NOTICE = "studio_notice"
SHARES = ("potential_aum_rise_share", "warning_aum_drop_share", "warning_probability", "tag_investment_share",
          "tag_term_deposit_share", "tag_salary_max_variation")
AMOUNTS = {"tag_digital_logins_per_month": 1.0, "tag_salary_min_inflow_cny": 500.0, "tag_holiday_spend_ratio": 0.1}  # step
WHOLES = ("potential_min_txns", "active_min_txns", "dormant_days", "new_tenure_months", "cross_sell_products",
          "contact_quiet_days")
CUTOFFS = tuple(rule for rule, _ in PARTS["tier_cutoffs_cny"])
# The two sides of a comparison, as its headers name them: the active rules and a proposal, or versions A and B.
PROPOSAL, VERSIONS = ("before", "after"), ("a", "b")

scope = session_scope()
filters = current()
book = RuleBook(StateStore())


def approve(version: int, **who) -> None:
    book.decide(version, approve=True, **who)
    follow_rules()


active = active_rules()
versions = book.versions()


def load(rules: RuleSet) -> None:
    """Put a rule set into the editors."""
    for key, value in zip(CUTOFFS, rules.tier_cutoffs_cny):
        st.session_state[f"rule_{key}"] = int(value)
    for name in (*SHARES, *WHOLES):
        st.session_state[f"rule_{name}"] = getattr(rules, name)
    for name in AMOUNTS:
        st.session_state[f"rule_{name}"] = float(getattr(rules, name))
    for tier_name in ALL_TIERS:
        st.session_state[f"rule_per_rm_{tier_name}"] = rules.customers_per_rm_of(tier_name)


def number(label: str, key: str, **options) -> None:
    """A number editor whose default is the value it holds: a browser that missed the run which put a rule set
    into the editors (a busy server) shows that value, not 0, and sends it back on the next edit."""
    st.number_input(label, value=st.session_state[key], key=key, **options)


def edited(base: RuleSet) -> RuleSet:
    """The rule set in the editors (InvalidRules names each bad field)."""
    return RuleSet(
        version=base.version,
        tier_cutoffs_cny=tuple(st.session_state[f"rule_{key}"] for key in CUTOFFS),
        customers_per_rm=tuple(st.session_state[f"rule_per_rm_{name}"] for name in ALL_TIERS),
        **{name: st.session_state[f"rule_{name}"] for name in (*SHARES, *WHOLES, *AMOUNTS)})


def done(message: str) -> None:
    """Show `message` after a rerun that reads the changed versions (and, after an approval, the rule set)."""
    st.session_state[KEY_NOTICE] = message
    st.rerun()


def refused(problem: Refused) -> None:
    st.error(t(problem.key, **{k: term("role", v, in_sentence=True) if k == "role" else v
                               for k, v in problem.values.items()}))


def step(name: str, buttons: dict, choices: list[int] = (), version: int | None = None) -> None:
    """A form for one adoption step: on `version`, or on one of `choices` picked in the form; a comment, and a
    button per action (label key -> (the rule book's method, the success message key))."""
    if version is None and not choices:
        return
    with st.form(f"studio_{name}", clear_on_submit=True):
        if version is None:
            st.subheader(t(f"studio.{name}"))
            version = st.selectbox(t("studio.which"), choices, format_func=label, key=f"studio_{name}_version")
        comment = st.text_input(t("studio.comment"), key=f"studio_{name}_comment")
        clicked = [key for key, column in zip(buttons, st.columns(len(buttons)))
                   if column.form_submit_button(t(key))]
        for key in clicked:
            action, success = buttons[key]
            try:
                action(version, actor=scope.user, role=scope.role, comment=comment)
            except Refused as problem:
                refused(problem)
            else:
                done(t(success, version=version))


def rule_changes(a: RuleSet, b: RuleSet, sides: tuple[str, str], key: str) -> bool:
    """The values that differ from `a` to `b`, one row each in its unit (analytics.rules.differences); False
    when no rule differs."""
    changed = differences(a, b)
    if changed.empty:
        return False
    changed["label"] = [message(f"rule.{rule}", tier=term("tier", tier)) if tier else message(f"rule.{rule}")
                        for rule, tier in zip(changed.rule, changed.tier)]
    first, second = sides
    table(changed, {"label": ("studio.col.rule", None), "a": (f"studio.col.value_{first}", "row"),
                    "b": (f"studio.col.value_{second}", "row")}, f"{key}_rules")
    return True


def impact(effect, movers, compared: tuple[RuleSet, RuleSet], sides: tuple[str, str], key: str) -> None:
    """The effect of one rule set against another (ui.cache.what_if), drawn the same wherever it is weighed: the
    customers, AUM and stages that change, RMs needed, customers and AUM per tier, who moves from which tier to
    which, RMs per tier, stages and tags gained and lost, the impact per branch and the customers who move.
    `compared` are the two rule sets (their tiers are drawn), `sides` names them in the headers (PROPOSAL,
    VERSIONS); `key` keeps charts and downloads apart."""
    first, second = sides
    moved, aum, stages_moved, rms = st.columns(4)
    metrics.share(moved, t("studio.moved"), fmt.count(effect.moved), t("studio.moved_share", share=fmt.pct(
        effect.moved / effect.customers if effect.customers else 0, lang(), digits=1)))
    aum.metric(t("studio.aum_moved"), fmt.money(effect.aum_moved_cny, lang()))
    stages_moved.metric(t("studio.stage_moved"), fmt.count(effect.stage_moved))
    need_before, need_after = int(effect.rm_load.rms_needed_before.sum()), int(effect.rm_load.rms_needed_after.sum())
    metrics.metric(rms, t("studio.rms_needed"), fmt.count(need_after), need_after - need_before, "count",
                   up_is_good=False, help=t("studio.rms_today", n=int(effect.branches.rms.sum())))

    tiers = effect.tiers.assign(name=effect.tiers.tier.map(lambda v: term("tier", v)))
    names = {"before": message(f"studio.{first}"), "after": message(f"studio.{second}")}
    left, right = st.columns(2)
    for column, value, header, unit in ((left, "customers", "col.customers", "count"), (right, "aum", "col.aum", "cny")):
        long = tiers.melt(id_vars=["name"], value_vars=[f"{value}_before", f"{value}_after"], var_name="side")
        long["side"] = long.side.str.rsplit("_", n=1).str[-1].map(names)
        figure = px.bar(long, x="name", y="value", color="side", barmode="group", title=t(header),
                        category_orders={"name": theme.order("tier", *compared)},
                        labels={"name": t("col.tier"), "value": t(header), "side": ""})
        with column:
            chart(figure, key=f"{key}_{value}", y=unit)
    table(tiers, {"tier": ("col.tier", "term:tier"), "customers_before": (f"studio.col.customers_{first}", "count"),
                  "customers_after": (f"studio.col.customers_{second}", "count"),
                  "customers_change": ("studio.col.change", "count"), "aum_before": (f"studio.col.aum_{first}", "cny"),
                  "aum_after": (f"studio.col.aum_{second}", "cny"), "aum_change": ("studio.col.aum_change", "cny")},
          f"{key}_tiers")

    st.subheader(t("studio.migration"))
    left, right = st.columns(2)
    with left:
        nodes = [name for name in ALL_TIERS if name in set(effect.matrix.from_tier) | set(effect.matrix.to_tier)]
        migration(effect.matrix, nodes, names["before"], names["after"], key=f"{key}_sankey")
    with right:
        matrix = effect.matrix.pivot_table(index="from_tier", columns="to_tier", values="customers", fill_value=0)
        matrix = matrix.reindex(index=nodes, columns=nodes, fill_value=0)
        matrix.index = [term("tier", v) for v in matrix.index]
        matrix.columns = [term("tier", v) for v in matrix.columns]
        st.caption(t(f"studio.matrix_{first}"))
        st.dataframe(matrix.map(fmt.count), width="stretch")

    left, right = st.columns(2)
    with left:
        st.subheader(t("studio.rm_load"))
        table(effect.rm_load, {"tier": ("col.tier", "term:tier"),
                               "customers_after": (f"studio.col.customers_{second}", "count"),
                               "customers_per_rm": ("rule.customers_per_rm", "count"),
                               "rms_needed_before": (f"studio.col.rms_{first}", "count"),
                               "rms_needed_after": (f"studio.col.rms_{second}", "count")}, f"{key}_rm_load")
    with right:
        st.subheader(t("studio.stages"))
        table(effect.stages, {"stage": ("col.stage", "term:stage"),
                              "customers_before": (f"studio.col.customers_{first}", "count"),
                              "customers_after": (f"studio.col.customers_{second}", "count"),
                              "customers_change": ("studio.col.change", "count")}, f"{key}_stages")

    st.subheader(t("studio.tags_effect"))
    table(effect.tags, {"tag": ("col.tag", "term:tag"),
                        "customers_before": (f"studio.col.customers_{first}", "count"),
                        "customers_after": (f"studio.col.customers_{second}", "count"),
                        "customers_change": ("studio.col.change", "count")}, f"{key}_tags")

    st.subheader(t("studio.branches"))
    branches = effect.branches.assign(branch=effect.branches["name" if lang() == "zh" else "name_en"])
    table(branches, {"branch": ("col.branch", None), "customers": ("col.customers", "count"),
                     "upgraded": ("studio.col.upgraded", "count"), "downgraded": ("studio.col.downgraded", "count"),
                     "high_tier_before": (f"studio.col.high_{first}", "count"),
                     "high_tier_after": (f"studio.col.high_{second}", "count"), "rms": ("studio.col.rms", "count"),
                     "rms_needed_before": (f"studio.col.rms_{first}", "count"),
                     "rms_needed_after": (f"studio.col.rms_{second}", "count")}, f"{key}_branches")

    st.subheader(t("studio.movers"))
    st.caption(t("studio.movers_shown", n=fmt.count(len(movers)), total=fmt.count(effect.changed)))
    table(movers, {"name": ("col.customer", None), "tier_before": (f"studio.col.tier_{first}", "term:tier"),
                   "tier_after": (f"studio.col.tier_{second}", "term:tier"),
                   "aum_3m_avg_cny": ("studio.col.aum_3m_avg", "cny"),
                   "stage_before": (f"studio.col.stage_{first}", "term:stage"),
                   "stage_after": (f"studio.col.stage_{second}", "term:stage"),
                   "branch_code": ("col.branch_code", None), "rm_id": ("col.rm_id", None),
                   "customer_id": ("col.customer_id", None)}, f"{key}_movers")


def label(version: int) -> str:
    row = versions[versions.version == version].iloc[0]
    name = t("studio.defaults") if version == 0 else message("studio.version", version=version)
    return f"{name} · {term('rule_status', row.status)}" + (f" · {t('studio.active')}" if row.active else "")


st.title(t("page.studio"))
st.caption(t("studio.explain", version=active.version))
if notice := st.session_state.pop(KEY_NOTICE, None):
    st.success(notice)
if period(filters, filter_options().months) is None:
    st.info(t("empty"))
    st.stop()

edit_tab, versions_tab, found_tab = st.tabs([t("studio.whatif"), t("studio.versions"), t("studio.found")])

with edit_tab:
    choices = versions.version.tolist()
    base_version = st.selectbox(t("studio.start_from"), choices, index=choices.index(active.version),
                                format_func=label, key="studio_base",
                                on_change=lambda: load(book.get(st.session_state.studio_base)))
    base = book.get(base_version)
    if "rule_dormant_days" not in st.session_state:
        load(base)

    tiers_col, stages_col, service_col = st.columns(3)
    with tiers_col:
        st.markdown(f"**{t('rule.tier_cutoffs_cny')}**")
        for key in CUTOFFS:
            number(t(f"rule.{key}"), f"rule_{key}", step=10_000)
        st.slider(t("rule.potential_aum_rise_share"), 0.0, 0.99, step=0.01, key="rule_potential_aum_rise_share",
                  format="%.2f")
        number(t("rule.potential_min_txns"), "rule_potential_min_txns", step=1)
    with stages_col:
        st.markdown(f"**{t('studio.lifecycle')}**")
        number(t("rule.new_tenure_months"), "rule_new_tenure_months", step=1)
        number(t("rule.dormant_days"), "rule_dormant_days", step=10)
        number(t("rule.active_min_txns"), "rule_active_min_txns", step=1)
        st.slider(t("rule.warning_aum_drop_share"), 0.01, 0.99, step=0.01, key="rule_warning_aum_drop_share",
                  format="%.2f")
        st.slider(t("rule.warning_probability"), 0.01, 0.99, step=0.01, key="rule_warning_probability", format="%.2f")
        number(t("rule.cross_sell_products"), "rule_cross_sell_products", step=1)
        number(t("rule.contact_quiet_days"), "rule_contact_quiet_days", step=1,
                        help=t("rule.contact_quiet_days_help"))
    with service_col:
        st.markdown(f"**{t('rule.customers_per_rm')}**")
        for tier_name in ALL_TIERS:
            number(t("rule.customers_per_rm_of", tier=term("tier", tier_name)), f"rule_per_rm_{tier_name}",
                   step=10)
    st.markdown(f"**{t('studio.tags')}**")
    for column, names in zip(st.columns(3), (("tag_digital_logins_per_month", "tag_investment_share"),
                                             ("tag_term_deposit_share", "tag_holiday_spend_ratio"),
                                             ("tag_salary_min_inflow_cny", "tag_salary_max_variation"))):
        with column:
            for name in names:
                if name in SHARES:
                    st.slider(t(f"rule.{name}"), 0.01, 0.99, step=0.01, key=f"rule_{name}", format="%.2f")
                else:
                    number(t(f"rule.{name}"), f"rule_{name}", min_value=0.0, step=AMOUNTS[name])
    st.button(t("studio.reset"), on_click=load, args=(base,), key="studio_reset")

    try:
        proposal = edited(base)
    except InvalidRules as invalid:
        st.error("\n".join([t("studio.invalid"), *(f"- {t('rule.' + name)}: {t(why)}"
                                                     for name, why in invalid.problems.items())]))
        st.stop()

    effect, movers = what_if(filters, active, proposal, MOVERS)
    changes = proposal.changes(active)
    st.subheader(t("studio.effect", version=active.version))
    if not changes:
        st.caption(t("studio.no_changes"))
    impact(effect, movers, (active, proposal), PROPOSAL, "whatif")

    with st.form("studio_save", clear_on_submit=True):
        st.subheader(t("studio.save"))
        comment = st.text_input(t("studio.comment"), key="studio_save_comment")
        if st.form_submit_button(t("studio.save_button"), disabled=not proposal.changes(base)):
            try:
                saved = book.save(proposal, author=scope.user, role=scope.role, comment=comment)
            except Refused as problem:
                refused(problem)
            else:
                done(t("studio.saved", version=saved))

with versions_tab:
    shown = versions.assign(status_name=versions.status.map(lambda s: term("rule_status", s)),
                            active_mark=versions.active.map({True: "✓", False: ""}))
    table(shown, {"version": ("rule.version", None), "status_name": ("studio.col.status", None),
                  "active_mark": ("studio.active", None), "author": ("studio.col.author", None),
                  "created_at": ("studio.col.created_at", None), "comment": ("studio.comment", None),
                  "step_by": ("studio.col.step_by", None), "step_at": ("studio.col.step_at", None),
                  "step_comment": ("studio.col.step_comment", None)}, "rule_versions")

    proposed = versions[versions.status == "proposed"].version.tolist()
    if permissions.may(scope.role, "rules:decide") and proposed:  # the decision beside the proposal's impact
        st.subheader(t("studio.decide"))
        deciding = st.selectbox(t("studio.which"), proposed, format_func=label, key="studio_decide_version")
        st.caption(t("studio.decide_explain", version=active.version))
        weighed = book.get(deciding)
        rule_changes(active, weighed, PROPOSAL, "decide")
        impact(*what_if(filters, active, weighed, MOVERS), (active, weighed), PROPOSAL, "decide")
        step("decide", {
            "studio.approve": (approve, "studio.approved"),
            "studio.reject": (lambda v, **who: book.decide(v, approve=False, **who), "studio.rejected")},
            version=deciding)

    st.subheader(t("studio.compare"))
    choices = versions.version.tolist()
    left, right = st.columns(2)
    one = left.selectbox(t("studio.compare_a"), choices, index=choices.index(active.version), format_func=label,
                         key="studio_compare_a")
    other = right.selectbox(t("studio.compare_b"), choices, index=0, format_func=label, key="studio_compare_b")
    a, b = book.get(one), book.get(other)
    if rule_changes(a, b, VERSIONS, "compare"):
        impact(*what_if(filters, a, b, MOVERS), (a, b), VERSIONS, "compare")
    else:
        st.caption(t("studio.same"))

    proposable = versions[~versions.active & (versions.status != "proposed")].version.tolist()
    if permissions.may(scope.role, "rules:edit"):  # an earlier approved version too (the defaults, 0): a roll-back
        step("propose", {"studio.propose_button": (book.propose, "studio.proposed")}, choices=proposable)

with found_tab:
    found = compute(segments.model, filters)
    if found is None:
        st.info(t("studio.found_none"))
        st.stop()
    st.caption(t("studio.found_explain", k=found["k"], low=found["range"][0], high=found["range"][1],
                 silhouette=f"{found['silhouette']:.3f}", seed=found["seed"], sample=fmt.count(found["fit_sample"])))
    profiles = compute(segments.profiles, filters)
    if profiles.empty:
        st.info(t("empty"))
        st.stop()
    name = "name_zh" if lang() == "zh" else "name_en"
    profiles = profiles.assign(label=profiles.segment.astype(str) + " · " + profiles[name],
                               tags=[", ".join(f"{term('tag', tag)} {fmt.pct(share, lang(), 0)}" for tag, share in top)
                                     for top in profiles.top_tags])
    left, right = st.columns(2)
    with left:
        figure = px.bar(profiles, x="label", y="customers", text=profiles.customers.map(fmt.count),
                        labels={"label": t("col.segment"), "customers": t("col.customers")},
                        color_discrete_sequence=[theme.SERIES[0]])
        chart(figure, key="found_sizes", y="count")
    with right:
        tried = found["silhouettes"]
        figure = px.line(x=list(tried), y=list(tried.values()), markers=True,
                         labels={"x": t("studio.found_k"), "y": t("studio.found_silhouette")})
        chart(figure, key="found_silhouettes", x="count", y="number")
    medians = {f"median_{f}": (f"segment.feature.{f}", "cny" if f == "aum_cny" else "score") for f in segments.FEATURES}
    table(profiles, {"segment": ("col.segment_number", None), name: ("col.segment", None),
                     "customers": ("col.customers", "count"), "share": ("col.share_customers", "pct1"),
                     "aum_cny": ("col.aum", "cny"), **medians, "tags": ("studio.found_tags", None)}, "found_segments")
    bank = profiles.iloc[0]
    st.caption(t("studio.found_bank", **{f: fmt.money(bank[f"bank_{f}"], lang()) if f == "aum_cny" else fmt.score(bank[f"bank_{f}"])
                                         for f in segments.FEATURES}))

    st.subheader(t("studio.found_by_tier"))
    spread = compute(segments.by_tier, filters)
    grid = spread.pivot(index="segment", columns="tier", values="customers").fillna(0)
    grid = grid.reindex(columns=[v for v in active.tiers if v in grid.columns])
    labels = dict(zip(profiles.segment, profiles.label))
    figure = px.imshow(grid.to_numpy(), x=[term("tier", v) for v in grid.columns], y=[labels.get(s, s) for s in grid.index],
                       text_auto=",", aspect="auto", color_continuous_scale="Blues",
                       labels={"x": t("col.tier"), "y": t("col.segment"), "color": t("col.customers")})
    chart(figure, key="found_by_tier", z="count")

