"""Campaign lists: filters, a product and a minimum propensity make a list; a branch head or an admin saves it
as a campaign whose leads enter the funnel."""

import dataclasses

import plotly.express as px
import streamlit as st

from analytics import campaigns, permissions
from analytics import format as fmt
from analytics.churn import reasons_text
from analytics.filters import Filters
from analytics.schema import CHANNELS
from analytics.scope import OutOfScope
from analytics.state import StateStore
from analytics.tags import TAGS
from ui import guard, theme
from ui.cache import active_rules, compute, filter_options, saved_lists, session_scope
from ui.charts import chart
from ui.i18n import lang, namer, t, term
from ui.scores import on_their_way
from ui.tables import table

guard.page("campaigns")

KEY_NOTICE = "campaigns_notice"
LIST_FILTERS = Filters()  # a list is as of the latest month-end, made by its own filters only

scope = session_scope()
rules = active_rules()
st.title(t("page.campaigns"))
if notice := st.session_state.pop(KEY_NOTICE, None):
    st.success(notice)

offered = compute(campaigns.choices, LIST_FILTERS)
branches = filter_options().branches
branch_names = dict(zip(branches.branch_code, branches["name" if lang() == "zh" else "name_en"]))

left, middle, right = st.columns(3)
with left:
    product = st.selectbox(t("col.product"), campaigns.OFFERED, index=campaigns.OFFERED.index("wealth_fund"),
                           format_func=namer("product"), key="list_product")
    minimum = st.slider(t("campaigns.min_probability"), 0.0, 1.0, 0.3, step=0.05, key="list_min_probability",
                        format="%.2f")
    size = st.number_input(t("campaigns.size"), 1, campaigns.MAX_SIZE, 1000, step=100, key="list_size")
with middle:
    tiers = st.multiselect(t("campaigns.tiers"), rules.tiers, format_func=namer("tier"), key="list_tiers",
                           placeholder=t("campaigns.any"))
    stages = st.multiselect(t("campaigns.stages"), campaigns.LISTABLE_STAGES, format_func=namer("stage"),
                            key="list_stages", placeholder=t("campaigns.any"))
    tags = st.multiselect(t("campaigns.tags"), TAGS, format_func=namer("tag"), key="list_tags",
                          placeholder=t("campaigns.any"))
with right:
    chosen = st.multiselect(t("campaigns.branches"), list(branches.branch_code), key="list_branches",
                            format_func=lambda code: f"{code} {branch_names.get(code, '')}",
                            placeholder=t("campaigns.any")) if len(branches) > 1 else []
    rms = offered["rms"]
    rms = rms[rms.branch_code.isin(chosen)] if chosen else rms
    rm_names = dict(zip(rms.rm_id, rms["name"]))
    picked_rms = st.multiselect(t("campaigns.rms"), list(rms.rm_id), key="list_rms",
                                format_func=lambda rm: f"{rm} {rm_names.get(rm, '')}", placeholder=t("campaigns.any"))
    segments = offered["segments"]
    segment_names = dict(zip(segments.segment, segments["name_zh" if lang() == "zh" else "name_en"]))
    picked_segments = st.multiselect(t("campaigns.segments"), list(segments.segment), key="list_segments",
                                     format_func=lambda s: f"{s}: {segment_names.get(s, '')}",
                                     placeholder=t("campaigns.any"))

spec = campaigns.ListSpec(product=product, min_probability=round(float(minimum), 4), size=int(size),
                          tiers=tuple(tiers), branches=tuple(chosen), rms=tuple(r for r in picked_rms if r in rm_names),
                          tags=tuple(tags), stages=tuple(stages), segments=tuple(int(s) for s in picked_segments))
shown = compute(campaigns.preview, LIST_FILTERS, spec)
if shown.scores_as_of is None:
    if not on_their_way("products"):
        st.info(t("campaigns.no_scores"))
    st.stop()
st.caption(t("campaigns.explain", as_of=fmt.date(shown.scores_as_of, lang())))

listed = shown.listed
cells = st.columns(4)
cells[0].metric(t("campaigns.listed"), fmt.count(len(listed)))
cells[1].metric(t("col.expected"), fmt.score(shown.expected), help=t("campaigns.expected_help"))
cells[2].metric(t("campaigns.matched"), fmt.count(shown.matched))
cells[3].metric(t("campaigns.left_out"), fmt.count(shown.left_out_total))
st.caption(t("campaigns.chance_means"))
if shown.quiet_days:
    st.caption(t("campaigns.hygiene", total=fmt.count(shown.left_out_total), days=shown.quiet_days,
                 to=fmt.date(shown.contacts_to, lang()), **{r: fmt.count(n) for r, n in shown.left_out.items()}))
else:
    st.caption(t("campaigns.hygiene_off", total=fmt.count(shown.left_out["open_complaint"])))
if shown.eligible > len(listed):
    st.caption(t("campaigns.capped", size=fmt.count(len(listed)), eligible=fmt.count(shown.eligible)))
if listed.empty and shown.matched:  # after a save above all: its customers are now leads of a list just saved
    st.info(t("campaigns.all_left_out", matched=fmt.count(shown.matched)))
elif listed.empty:
    st.info(t("campaigns.empty"))
else:
    st.subheader(t("campaigns.workload"))
    workload = shown.by_rm.assign(label=shown.by_rm.rm_id + " " + shown.by_rm.rm_name)
    top = workload.head(30)
    figure = px.bar(top, x="label", y="customers", text=top.customers.map(fmt.count),
                    labels={"label": t("col.rm"), "customers": t("col.customers")},
                    custom_data=["expected"], color_discrete_sequence=[theme.SERIES[0]])
    chart(figure, key="campaign_workload", y="count", more=(("col.expected", "score"),))
    table(shown.by_rm, {"rm_name": ("col.rm", None), "customers": ("col.customers", "count"),
                        "expected": ("col.expected", "score"), "branch_code": ("col.branch_code", None),
                        "rm_id": ("col.rm_id", None)}, "campaign_workload")

    st.subheader(t("campaigns.list"))
    listed = listed.assign(why=listed.reasons_json.map(lambda v: reasons_text(v, lang()) or "–"))
    table(listed, {"name": ("col.customer", None), "probability": ("col.propensity", "pct"),
                   "rm_name": ("col.rm", None), "why": ("col.reasons", None), "branch_code": ("col.branch_code", None),
                   "rm_id": ("col.rm_id", None), "customer_id": ("col.customer_id", None)},
          "campaign_list", audit={"list": dataclasses.asdict(spec)})

    if permissions.may(scope.role, "campaign:save"):
        st.subheader(t("campaigns.save"))
        st.caption(t("campaigns.save_explain", leads=fmt.count(len(listed))))
        with st.form("campaign_save"):
            name = st.text_input(t("campaigns.name"), value=f"{term('product', product)} {fmt.date(shown.scores_as_of, lang())}",
                                 max_chars=80, key="campaign_name")
            channel = st.selectbox(t("col.channel"), CHANNELS, index=CHANNELS.index("rm_call"),
                                   format_func=namer("channel"), key="campaign_channel")
            if st.form_submit_button(t("campaigns.save"), type="primary"):
                try:
                    made = campaigns.save(StateStore(), scope, spec, shown, name=name, channel=channel,
                                           rules_version=rules.version)
                except (campaigns.BadList, OutOfScope, permissions.Forbidden) as problem:
                    st.error(str(problem))
                else:
                    st.session_state[KEY_NOTICE] = t("campaigns.saved", campaign_id=made.campaign_id, name=name.strip(),
                                                     leads=fmt.count(made.leads))
                    st.rerun()
    else:
        st.info(t("campaigns.may_not_save", role=term("role", scope.role, in_sentence=True)))

st.subheader(t("campaigns.saved_lists"))
saved = saved_lists()
if saved.empty:
    st.caption(t("campaigns.none_saved"))
else:
    table(saved, {"name": ("col.campaign", None), "product": ("col.product", "term:product"),
                  "leads": ("col.leads", "count"), "expected": ("col.expected", "score"),
                  "channel": ("col.channel", "term:channel"), "created_at": ("col.saved_at", None),
                  "created_by": ("col.saved_by", None), "campaign_id": ("col.campaign_id", None)}, "campaign_lists")
