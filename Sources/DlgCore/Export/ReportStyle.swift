// The CSS of report.html (`ReportAssets.head` inlines it).

extension ReportAssets {
    static let css = #"""
    :root { --bg: #f4f6f9; --card: #fff; --ink: #1d2433; --muted: #5f6b7d; --line: #dde2ea; --accent: #2f6fed;
      --good: #1f8a4c; --mid: #b7791f; --bad: #c53030; --user: #eef3fe; --chip: #eef1f5; }
    * { box-sizing: border-box; }
    html, body { margin: 0; height: 100%; }
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      color: var(--ink); background: var(--bg); display: flex; flex-direction: column; min-height: 100vh; }
    #dlg-errors { margin: 0; padding: 8px 16px; background: #fde8e8; color: var(--bad); white-space: pre-wrap; }
    .top { display: flex; align-items: baseline; gap: 16px; padding: 10px 18px; background: #1d2433; color: #fff; }
    .brand { font-weight: 700; font-size: 17px; letter-spacing: .2px; }
    .brand span { font-weight: 400; color: #9fb3d9; }
    .run-title { font-size: 15px; font-weight: 600; }
    .run-meta { margin-left: auto; color: #b8c2d3; font-size: 12px; }
    .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; padding: 12px 18px 0; }
    .tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 0; }
    .tile .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .5px; }
    .tile .v { font-size: 21px; font-weight: 650; line-height: 1.25; }
    .tile .s { color: var(--muted); font-size: 12px; line-height: 1.3; overflow: hidden; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; }
    .panes { flex: 1; min-height: 0; display: grid; grid-template-columns: 360px minmax(0, 1fr) 360px; gap: 12px;
      padding: 12px 18px 14px; height: calc(100vh - 166px); min-height: 480px; }
    .pane { background: var(--card); border: 1px solid var(--line); border-radius: 8px; min-height: 0; overflow: auto; }
    .list-pane { display: flex; flex-direction: column; overflow: hidden; }
    .controls { padding: 10px; border-bottom: 1px solid var(--line); }
    .controls input[type=search] { width: 100%; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
    .controls .grid { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 6px 8px; margin-top: 8px; }
    .controls label { display: flex; flex-direction: column; font-size: 11px; color: var(--muted); min-width: 0; }
    .controls label[hidden] { display: none; }
    .controls select, .controls input[type=number] { font: inherit; font-size: 13px; padding: 3px 4px; border: 1px solid var(--line);
      border-radius: 5px; background: #fff; color: var(--ink); min-width: 0; width: 100%; }
    .count { display: flex; justify-content: space-between; align-items: center; margin-top: 8px; font-size: 12px; color: var(--muted); }
    .count button { font: inherit; font-size: 12px; border: 1px solid var(--line); background: #fff; border-radius: 5px; padding: 2px 8px; cursor: pointer; }
    .list { position: relative; flex: 1; min-height: 0; overflow-y: auto; outline: none; }
    .list-space { position: relative; }
    .row { position: absolute; left: 0; right: 0; height: 72px; padding: 7px 10px; border-bottom: 1px solid var(--line); cursor: pointer;
      display: flex; flex-direction: column; gap: 2px; overflow: hidden; }
    .row:hover { background: #f7f9fc; }
    .row.sel { background: #e8effd; box-shadow: inset 3px 0 0 var(--accent); }
    .row .l1 { display: flex; align-items: center; gap: 6px; }
    .row .id { font: 600 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .row .l1 .score { margin-left: auto; }
    .row .chips { flex-wrap: nowrap; overflow: hidden; }
    .row .l3 { color: var(--muted); font-size: 12.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .chips { display: flex; flex-wrap: wrap; gap: 4px; }
    .chip { display: inline-block; background: var(--chip); color: #374151; border-radius: 10px; padding: 0 7px; font-size: 11.5px; line-height: 18px; white-space: nowrap; }
    .chip.drop { background: #fde8e8; color: var(--bad); }
    .chip.reason { background: #fff4e5; color: #8a4b08; }
    .chip.off { background: #f1f1f1; color: #777; text-decoration: line-through; }
    .score { display: inline-block; min-width: 30px; text-align: center; border-radius: 10px; padding: 0 7px; font-weight: 700; font-size: 12px; line-height: 19px; color: #fff; background: #9aa5b5; }
    .score.good { background: var(--good); } .score.mid { background: var(--mid); } .score.bad { background: var(--bad); }
    .detail-pane { padding: 16px 20px 24px; }
    .detail-pane h2 { margin: 0 0 6px; font: 650 18px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
    .detail-pane .empty { color: var(--muted); margin-top: 40px; text-align: center; }
    .meta { display: grid; grid-template-columns: 130px 1fr; gap: 3px 12px; margin: 10px 0 12px; font-size: 13px; }
    .meta dt { color: var(--muted); } .meta dd { margin: 0; }
    .note { border-radius: 8px; padding: 8px 12px; margin: 8px 0; font-size: 13px; }
    .note.drop { background: #fdecec; border: 1px solid #f5c2c2; }
    .note.conv { background: #f3f6fb; border: 1px solid var(--line); }
    .note.hidden-by-filter { background: #fff8e6; border: 1px solid #f3dfa8; }
    .turn { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 12px; }
    .turn-head { font-size: 12px; color: var(--muted); margin-bottom: 6px; display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; }
    .turn-head b { color: var(--ink); }
    .msg { border-radius: 12px; padding: 8px 12px; margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 92%; }
    .msg .who { font-size: 11px; font-weight: 650; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; margin-bottom: 2px; white-space: normal; }
    .msg.user { background: var(--user); border: 1px solid #d6e2fb; }
    .msg.assistant { background: #fff; border: 1px solid var(--line); margin-left: auto; }
    .verdict { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; font-size: 13px; margin: 6px 0; }
    .verdict .notes { color: #374151; }
    .ok { color: var(--good); font-size: 12px; } .notok { color: var(--bad); font-size: 12px; }
    details { margin: 6px 0; font-size: 13px; }
    details summary { cursor: pointer; color: var(--accent); }
    details ol { margin: 6px 0; padding-left: 22px; }
    details li { margin: 3px 0; }
    .passage { border-left: 3px solid #c9d6f2; background: #f8fafd; padding: 6px 10px; margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12.5px; }
    .passage cite { display: block; font-style: normal; font-size: 11.5px; color: var(--muted); margin-bottom: 2px; }
    .tool-q { font-size: 12.5px; margin-top: 8px; }
    .tool-q code { background: var(--chip); padding: 1px 5px; border-radius: 4px; }
    .charts-pane { padding: 12px; overflow-x: hidden; }
    .charts-pane h3 { margin: 4px 0 8px; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .5px; }
    .chart { margin-bottom: 12px; }
    .chart svg { width: 100%; height: auto; display: block; }
    table.agents { width: 100%; border-collapse: collapse; font-size: 12px; margin-bottom: 12px; table-layout: fixed; }
    table.agents th:first-child { width: 34%; }
    table.agents td:first-child { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    table.agents th, table.agents td { text-align: right; padding: 3px 4px; border-bottom: 1px solid var(--line); }
    table.agents th:first-child, table.agents td:first-child { text-align: left; }
    .facts { font-size: 12.5px; color: var(--muted); }
    .noscript { padding: 20px; }
    .quality { margin: 0 18px 18px; padding: 12px 16px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
    .quality h2 { margin: 2px 0 8px; font-size: 16px; } .quality h3 { margin: 14px 0 6px; font-size: 13px; color: var(--muted); }
    .quality .charts-row { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
    .quality svg { width: 100%; height: auto; display: block; }
    table.metrics, table.pairs { border-collapse: collapse; font-size: 12.5px; width: 100%; }
    table.metrics th, table.metrics td, table.pairs th, table.pairs td { padding: 3px 6px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
    table.metrics th:first-child, table.metrics td:first-child, table.pairs td.q { text-align: left; }
    table.pairs th, table.pairs td.q { text-align: left; } table.pairs td.q { overflow-wrap: anywhere; width: 44%; }
    @media (max-width: 1180px) {
      .panes { grid-template-columns: 340px minmax(0, 1fr); height: auto; }
      .list-pane, .detail-pane { height: calc(100vh - 150px); }
      .charts-pane { grid-column: 1 / -1; }
    }
    """#
}
