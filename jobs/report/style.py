"""The report's stylesheet, inline: the page has no external assets and needs no build step."""

from __future__ import annotations

CSS = """
:root {
  --bg: #f5f6f8; --card: #ffffff; --ink: #1c2128; --muted: #5f6b7a; --faint: #8c96a3;
  --line: #e1e5ea; --soft: #f0f2f5; --code: #f6f8fa; --accent: #3b5bdb;
  --good: #1a7f37; --good-bg: #dcf5e3; --bad: #c62f3b; --bad-bg: #fde7e9;
  --warn: #9a6200; --warn-bg: #fff3c4; --info: #0b62c4; --info-bg: #dcecff;
  --pending: #6e7781; --pending-bg: #eceff2;
  --mono: ui-monospace, "SF Mono", "Cascadia Code", "JetBrains Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --card: #171b21; --ink: #e6e9ee; --muted: #9aa4b2; --faint: #6b7480;
    --line: #2a3038; --soft: #1d2229; --code: #12161b; --accent: #8ea2ff;
    --good: #56d37a; --good-bg: #143322; --bad: #ff7b84; --bad-bg: #3a1519;
    --warn: #e8b53a; --warn-bg: #352a0c; --info: #6cb0ff; --info-bg: #11284a;
    --pending: #9aa4b2; --pending-bg: #242a31;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 28px 64px; }
header.top { margin-bottom: 22px; }
.eyebrow { color: var(--muted); font-size: 13px; letter-spacing: .02em; display: flex; gap: 10px;
  flex-wrap: wrap; align-items: center; }
.eyebrow .id { font-family: var(--mono); font-weight: 600; color: var(--ink); }
h1 { font-size: 27px; line-height: 1.25; margin: 6px 0 14px; font-weight: 650; letter-spacing: -.01em;
  overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 0 0 14px; font-weight: 650; display: flex; align-items: center; gap: 10px; }
h3 { font-size: 15px; margin: 18px 0 8px; font-weight: 650; display: flex; align-items: center; gap: 8px;
  flex-wrap: wrap; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px; }
.fact { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.fact .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.fact .v { font-size: 16px; font-weight: 600; overflow-wrap: anywhere; }
.fact .v.small { font-size: 13.5px; font-weight: 500; }
nav.toc { display: flex; gap: 6px; flex-wrap: wrap; margin: 18px 0 0; }
nav.toc a { font-size: 13px; padding: 4px 10px; border-radius: 999px; background: var(--card);
  border: 1px solid var(--line); color: var(--ink); }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 22px; margin: 18px 0; box-shadow: 0 1px 2px rgba(20, 30, 45, .04); }
.muted { color: var(--muted); }
.faint { color: var(--faint); }
.small { font-size: 13px; }
.banner { border-radius: 10px; padding: 10px 14px; margin: 14px 0 0; font-size: 14px; border: 1px solid; }
.banner.warn { background: var(--warn-bg); color: var(--warn); border-color: transparent; }
.banner.bad { background: var(--bad-bg); color: var(--bad); border-color: transparent; }
.banner.pending { background: var(--pending-bg); color: var(--muted); border-color: transparent; }
.pill { display: inline-flex; align-items: center; gap: 6px; border-radius: 999px; padding: 1px 10px;
  font-size: 12.5px; font-weight: 600; white-space: nowrap; line-height: 1.7; }
.pill::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.t-good { color: var(--good); background: var(--good-bg); }
.t-bad { color: var(--bad); background: var(--bad-bg); }
.t-warn { color: var(--warn); background: var(--warn-bg); }
.t-info { color: var(--info); background: var(--info-bg); }
.t-pending { color: var(--pending); background: var(--pending-bg); }
.pill.big { font-size: 14px; padding: 3px 14px; }
/* timeline */
.track { position: relative; height: 38px; background: var(--soft); border-radius: 8px; margin: 6px 0 4px; }
.seg { position: absolute; top: 5px; bottom: 5px; border-radius: 6px; min-width: 6px; overflow: hidden;
  font-size: 12px; font-weight: 600; padding: 0 8px; display: flex; align-items: center;
  white-space: nowrap; }
.seg.k-good { background: var(--good); color: #fff; }
.seg.k-bad { background: var(--bad); color: #fff; }
.seg.k-warn { background: #d49a1a; color: #fff; }
.seg.k-info { background: var(--info); color: #fff; }
.axis { display: flex; justify-content: space-between; color: var(--faint); font-size: 12px; }
.phases { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: 14px;
  margin-top: 16px; }
.phase { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 12px;
  border-top-width: 4px; }
.phase.k-good { border-top-color: var(--good); } .phase.k-bad { border-top-color: var(--bad); }
.phase.k-warn { border-top-color: #d49a1a; } .phase.k-info { border-top-color: var(--info); }
.phase.k-pending { border-top-color: var(--line); border-style: dashed; border-top-style: solid; }
.phase .name { font-weight: 650; font-size: 15px; display: flex; justify-content: space-between;
  align-items: center; gap: 8px; }
.phase .nums { display: flex; gap: 16px; margin: 8px 0 6px; font-size: 13.5px; }
.phase .nums b { font-size: 16px; display: block; }
.phase .nums span { color: var(--muted); font-size: 12px; }
.steps { display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: var(--soft);
  margin: 8px 0 6px; }
.steps i { display: block; height: 100%; }
.steps i:nth-child(6n+1) { background: #6c8cff; } .steps i:nth-child(6n+2) { background: #38b2ac; }
.steps i:nth-child(6n+3) { background: #f4a261; } .steps i:nth-child(6n+4) { background: #b57edc; }
.steps i:nth-child(6n+5) { background: #e76f8a; } .steps i:nth-child(6n+6) { background: #8fb339; }
.legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 12px; color: var(--muted); }
.legend span::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 2px;
  margin-right: 5px; background: var(--faint); }
.legend span:nth-child(6n+1)::before { background: #6c8cff; }
.legend span:nth-child(6n+2)::before { background: #38b2ac; }
.legend span:nth-child(6n+3)::before { background: #f4a261; }
.legend span:nth-child(6n+4)::before { background: #b57edc; }
.legend span:nth-child(6n+5)::before { background: #e76f8a; }
.legend span:nth-child(6n+6)::before { background: #8fb339; }
.detail { font-size: 13px; color: var(--bad); margin-top: 6px; overflow-wrap: anywhere; }
/* tables */
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
td.num, th.num { text-align: center; }
.scores td.num { font-variant-numeric: tabular-nums; font-weight: 650; }
/* a night's findings: the fix column keeps an identifier on one line */
table.findings td:last-child { min-width: 170px; }
table.findings td:last-child b { white-space: nowrap; }
.counts td.num { font-variant-numeric: tabular-nums; }
.score { display: inline-block; min-width: 30px; padding: 1px 8px; border-radius: 6px; }
.score.low { color: var(--bad); background: var(--bad-bg); }
.score.ok { color: var(--good); background: var(--good-bg); }
.wrap { overflow-x: auto; }
/* rounds and attempts */
.round { border-left: 3px solid var(--line); padding: 2px 0 4px 16px; margin: 18px 0 6px; }
.round.k-good { border-left-color: var(--good); } .round.k-bad { border-left-color: var(--bad); }
.round.k-warn { border-left-color: #d49a1a; } .round.k-info { border-left-color: var(--info); }
.quote { background: var(--soft); border-radius: 8px; padding: 10px 14px; white-space: pre-wrap;
  overflow-wrap: anywhere; margin: 8px 0; }
ul.issues { list-style: none; padding: 0; margin: 8px 0; }
ul.issues li { padding: 8px 12px; border: 1px solid var(--line); border-radius: 8px; margin: 6px 0;
  overflow-wrap: anywhere; }
.where { font-family: var(--mono); font-size: 12.5px; font-weight: 600; }
.tag { font-size: 11.5px; border-radius: 4px; padding: 0 6px; background: var(--soft); color: var(--muted);
  font-weight: 600; }
.fix { border: 1px dashed var(--line); border-radius: 8px; padding: 10px 14px; margin: 10px 0; }
.fix .head { font-weight: 600; font-size: 14px; display: flex; gap: 8px; align-items: center;
  flex-wrap: wrap; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px;
  overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; max-height: 560px;
  overflow-y: auto; }
details > summary { cursor: pointer; }
details.more > summary { color: var(--accent); font-size: 13px; margin: 2px 0 4px; }
.checks td.cmd { font-family: var(--mono); font-size: 12.5px; overflow-wrap: anywhere; }
/* screenshots */
.shots { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px;
  margin: 12px 0; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 10px; overflow: hidden;
  background: var(--card); }
figure.fail { border-color: var(--bad); box-shadow: 0 0 0 1px var(--bad); }
figure img { display: block; width: 100%; height: auto; border-bottom: 1px solid var(--line); }
figcaption { padding: 8px 12px; font-size: 13px; }
figcaption .check { font-weight: 600; overflow-wrap: anywhere; }
/* transcripts */
details.transcript { border: 1px solid var(--line); border-radius: 10px; margin: 10px 0;
  background: var(--card); }
details.transcript > summary { padding: 10px 14px; display: flex; gap: 10px; align-items: center;
  flex-wrap: wrap; list-style: none; }
details.transcript > summary::-webkit-details-marker { display: none; }
details.transcript > summary::before { content: "\\25B8"; color: var(--faint); }
details.transcript[open] > summary::before { content: "\\25BE"; }
details.transcript[open] > summary { border-bottom: 1px solid var(--line); }
.who { font-weight: 650; }
.convo { padding: 10px 16px 14px; }
.say { margin: 12px 0; padding: 8px 14px; border-left: 3px solid var(--accent); background: var(--soft);
  border-radius: 0 8px 8px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.say.thinking { border-left-color: var(--faint); color: var(--muted); font-style: italic; }
details.tool { margin: 4px 0 4px 18px; border-radius: 8px; }
details.tool > summary { font-size: 13px; padding: 3px 8px; border-radius: 6px; display: flex; gap: 8px;
  align-items: baseline; overflow: hidden; }
details.tool > summary:hover { background: var(--soft); }
details.tool[open] > summary { background: var(--soft); }
.tname { font-family: var(--mono); font-weight: 650; font-size: 12.5px; }
.targ { font-family: var(--mono); font-size: 12.5px; color: var(--muted); white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis; min-width: 0; }
.mark-ok { color: var(--good); font-weight: 700; } .mark-err { color: var(--bad); font-weight: 700; }
.tool-body { padding: 2px 0 6px 12px; border-left: 2px solid var(--line); margin-left: 10px; }
.label { font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: var(--faint);
  margin-top: 6px; }
.kv { font-size: 13px; margin: 2px 0; overflow-wrap: anywhere; }
.kv .k { color: var(--faint); font-family: var(--mono); font-size: 12px; margin-right: 8px; }
.diff .del { color: var(--bad); } .diff .add { color: var(--good); }
.ending { font-size: 13px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 8px;
  margin-top: 12px; }
footer { color: var(--faint); font-size: 12.5px; text-align: center; margin-top: 28px; }
"""
