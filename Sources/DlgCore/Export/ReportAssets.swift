// The CSS and JavaScript of report.html, kept as Swift strings so the tools need no resource files.
// The page fetches nothing: its Content-Security-Policy allows only inline styles and scripts and
// `data:` images, so a browser would refuse a CDN, a font or a remote script even if one slipped in.

enum ReportAssets {
    /// Everything before the data blocks: the document head with the CSS, the error catcher (first,
    /// so an error anywhere in the page's script is written into the page), the page's skeleton.
    static let head = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
    <title>dlgforge report</title>
    <style>
    """# + css + #"""
    </style>
    </head>
    <body>
    <pre id="dlg-errors" hidden></pre>
    <script>
    window.dlgErrors = [];
    window.dlgError = function (message) {
      window.dlgErrors.push(String(message));
      document.documentElement.setAttribute('data-errors', String(window.dlgErrors.length));
      var box = document.getElementById('dlg-errors');
      if (box) { box.hidden = false; box.textContent += String(message) + '\n'; }
    };
    window.addEventListener('error', function (e) { window.dlgError('error: ' + e.message + ' (line ' + e.lineno + ':' + e.colno + ')'); });
    window.addEventListener('unhandledrejection', function (e) { window.dlgError('unhandled rejection: ' + e.reason); });
    </script>
    <header class="top">
      <div class="brand">dlgforge <span>report</span></div>
      <div id="run-title" class="run-title"></div>
      <div id="run-meta" class="run-meta"></div>
    </header>
    <section id="tiles" class="tiles" aria-label="The run at a glance"></section>
    <main class="panes">
      <section class="pane list-pane" aria-label="Dialogues">
        <form id="controls" class="controls" onsubmit="return false">
          <input id="f-q" type="search" placeholder="Search the text of every dialogue" aria-label="Search">
          <div class="grid">
            <label>Language<select id="f-lang"></select></label>
            <label>Status<select id="f-status"></select></label>
            <label>Judge reason<select id="f-reason"></select></label>
            <label>Drop reason<select id="f-drop"></select></label>
            <label>Turns<select id="f-turns"></select></label>
            <label>Sort<select id="f-sort"></select></label>
            <label>Score from<input id="f-minScore" type="number" min="0" max="10" step="0.5" placeholder="0"></label>
            <label>to<input id="f-maxScore" type="number" min="0" max="10" step="0.5" placeholder="10"></label>
            <label id="f-filter-label" hidden>Quality filters<select id="f-filter"></select></label>
          </div>
          <div class="count"><span id="count"></span><button id="clear" type="button">Clear filters</button></div>
        </form>
        <div id="list" class="list" tabindex="0"><div id="list-space" class="list-space"></div></div>
      </section>
      <section id="detail" class="pane detail-pane" aria-live="polite"></section>
      <aside id="charts" class="pane charts-pane" aria-label="Charts"></aside>
    </main>
    <section id="quality" class="quality" aria-label="Dataset quality" hidden></section>
    <noscript><p class="noscript">This report draws its pages with JavaScript; please allow scripts for this file.</p></noscript>

    """#
}
