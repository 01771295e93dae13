"""The churn model: how well it did on the later months it never saw, what it leans on, and whether today's
scores still look like the ones it was trained on."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analytics import churn
from analytics import format as fmt
from analytics.filters import ALL
from analytics.ml import papers
from ui import guard, theme
from ui.cache import coming, compute
from ui.charts import chart
from ui.i18n import lang, message, t, term
from ui.scores import on_their_way
from ui.tables import table

guard.page("model")

st.title(t("page.model"))
st.caption(t("model.explain"))
on_their_way("churn", "products")
models = papers.models_dir()
for kind in ("churn", "products"):
    if refused := papers.refusal(models, kind):
        st.warning(t("model.refused", version=refused["version"], reason=refused["refused"]))
today = compute(churn.score_distribution, ALL, papers.SCORE_BINS)  # the whole scope: training saw every customer
newest = papers.latest(models)
version = today.model_version.iloc[0] if not today.empty else (newest.stem.removeprefix("churn-") if newest else None)
paper = papers.read_paper(models, version) if version else None
if paper is None:
    if version is not None or "churn" not in coming():
        st.info(t("model.none", directory=models) if version is None else t("model.missing", version=version,
                                                                             directory=models))
    st.stop()
if newest and newest.stem != f"churn-{version}":
    st.warning(t("model.newer", newest=newest.stem.removeprefix("churn-"), version=version))


def days(paper: dict) -> dict[str, str]:
    """A paper's training and validation windows as the language writes days."""
    return dict(zip(("trained", "trained_to", "validated", "validated_to"),
                    (fmt.date(day, lang()) for day in (*paper["training_window"], *paper["validation_window"]))))


v = paper["validation"]
st.markdown(t("model.windows", version=paper["version"], **days(paper), horizon=paper["horizon_months"],
              rows=fmt.count(paper["rows"]["training"]), validation_rows=fmt.count(paper["rows"]["validation"])))
cells = st.columns(6)
cells[0].metric(t("model.roc_auc"), f"{v['roc_auc']:.3f}", help=t("model.roc_auc_help"))
cells[1].metric(t("model.pr_auc"), f"{v['pr_auc']:.3f}", help=t("model.pr_auc_help", base=fmt.pct(v["base_rate"], lang())))
cells[2].metric(t("model.brier"), f"{v['brier']:.4f}", help=t("model.brier_help"))
cells[3].metric(t("model.base_rate"), fmt.pct(v["base_rate"], lang(), digits=1), help=t("model.base_rate_help"))
if "caught_top10" in v:
    cells[4].metric(t("model.caught", share="10%"), fmt.pct(v["caught_top10"], lang(), digits=1),
                    help=t("model.caught_help", lift=f"{v['lift_top10']:.1f}"))
    cells[5].metric(t("model.caught", share="20%"), fmt.pct(v["caught_top20"], lang(), digits=1),
                    help=t("model.caught_help", lift=f"{v['lift_top20']:.1f}"))


def against_diagonal(x, y, top: float, title: str, x_title: str, y_title: str, diagonal: str) -> go.Figure:
    """A curve of shares against the dotted diagonal it is judged by (perfect calibration, a random list)."""
    figure = go.Figure([
        go.Scatter(x=[0, top], y=[0, top], mode="lines", line=dict(color=theme.TARGET, dash="dot"), name=diagonal,
                   hoverinfo="skip"),
        go.Scatter(x=x, y=y, mode="lines+markers", name=title),
    ])
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, showlegend=False)
    return figure


def calibration(bins: list[dict], title: str, observed: str) -> go.Figure:
    """A validation report's calibration (the mean predicted chance and the share that happened, by tenth of the
    held-out rows ranked by chance) against the diagonal of perfect calibration."""
    frame = pd.DataFrame(bins)
    top = float(max(frame.predicted.max(), frame.observed.max()))
    return against_diagonal(frame.predicted, frame.observed, top, title, t("model.predicted"), observed,
                            t("model.perfect"))


left, right = st.columns(2)
with left:
    chart(calibration(v["calibration"], t("model.calibration"), t("model.observed")), key="calibration",
          x="pct", y="pct")
    st.caption(t("model.calibration_help"))
with right:
    if "gains" in v:
        gains = pd.DataFrame([{"share_of_list": 0.0, "share_of_churners": 0.0}, *v["gains"]])
        figure = against_diagonal(gains.share_of_list, gains.share_of_churners, 1, t("model.gains"),
                                  t("model.share_of_list"), t("model.share_of_churners"), t("model.random"))
        for share, key in ((0.1, "caught_top10"), (0.2, "caught_top20")):
            figure.add_annotation(x=share, y=v[key], text=fmt.pct(v[key], lang(), digits=1), showarrow=True, arrowhead=2)
        chart(figure, key="gains", x="pct", y="pct")
        st.caption(t("model.gains_help"))
    else:
        st.info(t("model.retrain_for", what=t("model.gains")))

left, right = st.columns(2)
with left:
    if "importance" in v:
        importance = pd.DataFrame({"feature": list(v["importance"]), "drop": list(v["importance"].values())})
        # a drop under zero is noise: the feature has no measurable effect
        importance = importance.assign(name=importance.feature.map(lambda f: term("model_feature", f)),
                                       drop=importance["drop"].clip(lower=0))
        figure = px.bar(importance.iloc[::-1], x="drop", y="name", orientation="h",
                        labels={"drop": t("model.auc_drop"), "name": ""}, title=t("model.importance"))
        figure.update_layout(height=120 + 24 * len(importance))
        chart(figure, key="importance", x="number")
        st.caption(t("model.importance_help"))
    else:
        st.info(t("model.retrain_for", what=t("model.importance")))
with right:
    if "score_distribution" in paper and not today.empty:
        trained = paper["score_distribution"]
        bins = trained["bins"]
        labels = [f"{bins[i]:.0%}–{bins[i + 1]:.0%}" for i in range(len(bins) - 1)]
        psi = churn.population_stability(trained["shares"], list(today.share))
        compare = pd.DataFrame({"bin": labels * 2, "share": list(trained["shares"]) + list(today.share),
                                "when": [message("model.at_training", month=fmt.date(trained["month"], lang()))] * len(labels)
                                + [message("model.today", as_of=fmt.date(today.as_of.iloc[0], lang()))] * len(labels)})
        figure = px.bar(compare, x="bin", y="share", color="when", barmode="group", title=t("model.distribution"),
                        labels={"bin": t("col.probability"), "share": t("col.share"), "when": ""})
        figure.update_yaxes(type="log", title=t("model.share_log"))
        figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
        chart(figure, key="distribution", y="pct")
        verdict = "stable" if psi < 0.1 else "shifting" if psi < 0.25 else "moved"
        st.caption(t("model.psi", psi=f"{psi:.3f}", verdict=t(f"model.psi_{verdict}")))
    elif today.empty:
        if "churn" not in coming():
            st.info(t("churn.no_scores"))
    else:
        st.info(t("model.retrain_for", what=t("model.distribution")))

st.subheader(t("model.paper"))
features = paper["features"]["numeric"] + paper["features"]["categorical"]
st.markdown(f"- **{t('model.trained_at')}:** {fmt.time(paper['trained_at'], lang())}\n"
            f"- **{t('model.features')}:** {', '.join(term('model_feature', f, in_sentence=True) for f in features)}\n"
            f"- **{t('model.libraries')}:** {', '.join(f'{k} {v_}' for k, v_ in paper['libraries'].items())}")

st.subheader(t("model.products"))
newest_products = papers.latest(models, "products")
products = papers.read_paper(models, newest_products.stem.removeprefix("products-"), "products") if newest_products else None
if products is None:
    if "products" not in coming():
        st.info(t("model.products_none", directory=models))
else:
    st.markdown(t("model.products_explain", version=products["version"], horizon=products["horizon_months"],
                  **days(products)))
    rows = []
    for product, report in products["products"].items():
        v_ = report.get("validation") or {}
        rows.append({"product": product, "roc_auc": v_.get("roc_auc"), "lift_top10": v_.get("lift_top10"),
                     "base_rate": v_.get("base_rate"), "openings": report["openings"]["validation"],
                     "note": t("model.not_published") if "refused" in report
                     else t("model.not_modelled") if "skipped" in report else ""})
    table(pd.DataFrame(rows), {"product": ("col.product", "term:product"), "roc_auc": ("model.roc_auc", "number"),
                               "lift_top10": ("model.lift_top10", "number"),
                               "base_rate": ("model.opening_rate", "pct"),
                               "openings": ("model.openings", "count"), "note": ("col.note", None)}, "product_models")
    published = {product: report for product, report in products["products"].items()
                 if "validation" in report and "refused" not in report}
    drawn = list(published.items())
    for row in range(0, len(drawn), 3):  # a row of columns each: a phone's stacked columns keep the table's order
        for cell, (product, report) in zip(st.columns(3), drawn[row:row + 3]):
            with cell:
                chart(calibration(report["validation"]["calibration"], term("product", product), t("model.opened")),
                      key=f"calibration_{product}", x="pct", y="pct")
    if published:
        st.caption(t("model.products_calibration_help", horizon=products["horizon_months"]))
    for product, report in products["products"].items():
        if product not in published:
            st.info(t("model.product_why", product=term("product", product),
                      reason=report.get("refused") or report["skipped"]))
