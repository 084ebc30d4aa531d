// The JavaScript of report.html (written after the data blocks by `ReportBuilder.finish`).

extension ReportAssets {
    /// The page's script: reads the data blocks, draws the tiles, charts, the windowed list and the
    /// selected dialogue. Query parameters (`?lang=fr&minScore=8&reason=vague&drop=...&turns=2&status=
    /// dropped&filter=kept&sort=score-desc&q=text`) set the controls at load through the same code as
    /// the controls themselves; `#<conversation_id>` selects a dialogue.
    static let script = scriptSetup + scriptDialogue

    /// The first part: the tiles, the charts, the dataset quality section, the controls and the list.
    static let scriptSetup = #"""
    (function () {
      'use strict';
      try {
        run();
      } catch (e) {
        window.dlgError((e && e.stack) || String(e));
      }

      function run() {
        var started = performance.now();
        var byId = function (id) { return document.getElementById(id); };
        var read = function (id) { return JSON.parse(byId(id).textContent); };
        var D = read('dlg-dialogues'), PASSAGES = read('dlg-passages'), PERSONAS = read('dlg-personas'), S = read('dlg-summary');
        var ROW = 72, OVERSCAN = 30;
        var index = new Map();
        D.forEach(function (d, i) { d.order = i; index.set(d.id, d); });

        // Elements are built with textContent only: no dialogue text is ever parsed as HTML.
        function h(tag, props, children) {
          var e = document.createElement(tag);
          if (props) {
            Object.keys(props).forEach(function (k) {
              var v = props[k];
              if (v === undefined || v === null || v === false) return;
              if (k === 'class') e.className = v;
              else if (k === 'text') e.textContent = v;
              else if (k.indexOf('on') === 0) e.addEventListener(k.slice(2), v);
              else e.setAttribute(k, v === true ? '' : v);
            });
          }
          (children || []).forEach(function (c) {
            if (c === undefined || c === null || c === false) return;
            e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
          });
          return e;
        }
        function fmt(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'); }
        function short(n) {
          if (n === null || n === undefined) return '–';
          if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M';
          if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e5 ? 0 : 1) + 'k';
          return fmt(n);
        }
        function seconds(s) {
          if (s === null || s === undefined) return 'unknown';
          if (s < 90) return s.toFixed(s < 10 ? 1 : 0) + ' s';
          if (s < 5400) return Math.round(s / 60) + ' min';
          return (s / 3600).toFixed(1) + ' h';
        }
        function scoreClass(s) { return s === null || s === undefined ? '' : s >= 8 ? ' good' : s >= 5 ? ' mid' : ' bad'; }
        function scoreBadge(s, title) {
          var shown = s === null || s === undefined ? '–' : (Math.round(s * 10) / 10).toString();
          return h('span', { class: 'score' + scoreClass(s), title: title || 'judge score' }, [shown]);
        }
        function persona(i) { return i === null || i === undefined ? null : PERSONAS[i]; }
        function entries(o) { return Object.keys(o || {}).map(function (k) { return [k, o[k]]; }); }

        // ---- The run at a glance ----
        byId('run-title').textContent = S.title;
        byId('run-meta').textContent = (S.source ? 'from ' + S.source + ' · ' : '') + 'built ' + S.generated_at;
        document.title = 'dlgforge report · ' + S.title;
        var langLine = S.languages.map(function (l) { return l.language + ' ' + l.completed; }).join(' · ');
        var dropTop = entries(S.drop_reasons).sort(function (a, b) { return b[1] - a[1]; })
          .slice(0, 2).map(function (e) { return e[0] + ' ' + e[1]; }).join(' · ');
        var tiles = [
          ['Completed', fmt(S.completed), langLine || 'no dialogue'],
          ['Turns', fmt(S.turns), S.completed ? (S.turns / S.completed).toFixed(1) + ' per dialogue' : ''],
          ['Dropped', fmt(S.dropped), dropTop || 'none'],
          ['Mean judge score', S.mean_score === null ? '–' : S.mean_score.toFixed(2), 'per dialogue, ' + fmt(S.judged) + ' judged'],
          ['Tokens', short(S.tokens.total_tokens), short(S.tokens.prompt_tokens) + ' prompt · ' + short(S.tokens.completion_tokens) + ' completion'],
          ['Requests', fmt(S.tokens.requests), S.agents.length ? S.agents.length + ' agents' : ''],
          ['Wall time', seconds(S.wall_seconds), S.wall_source || 'not in the logs']
        ];
        if (S.active) tiles.splice(3, 0, ['In progress', fmt(S.active), 'not finished yet']);
        if (S.filters) {
          var removed = entries(S.filters.removed).filter(function (e) { return e[1] > 0; })
            .map(function (e) { return e[0] + ' ' + e[1]; }).join(' · ');
          tiles.push(['Quality filters', fmt(S.filters.kept) + ' kept', removed ? 'removed: ' + removed : 'none removed']);
        }
        (S.extra_tiles || []).forEach(function (t) { tiles.push(t); });
        var tileBox = byId('tiles');
        tiles.forEach(function (t) {
          tileBox.appendChild(h('div', { class: 'tile' }, [h('div', { class: 'k', text: t[0] }),
            h('div', { class: 'v', text: t[1] }), h('div', { class: 's', text: t[2], title: t[2] })]));
        });

        var charts = byId('charts');
        charts.appendChild(h('h3', { text: 'Charts' }));
        S.charts.forEach(function (c) {
          var box = h('div', { class: 'chart', 'data-chart': c.key });
          box.innerHTML = c.svg; // drawn by dlg-export, every label escaped there
          charts.appendChild(box);
        });
        if (S.agents.length) {
          charts.appendChild(h('h3', { text: 'Tokens and requests per agent' }));
          charts.appendChild(h('table', { class: 'agents' }, [
            h('thead', null, [h('tr', null, ['agent', 'requests', 'failed', 'prompt', 'completion'].map(function (x) { return h('th', { text: x }); }))]),
            h('tbody', null, S.agents.map(function (a) {
              return h('tr', null, [a.agent, fmt(a.requests), fmt(a.failed), short(a.prompt_tokens), short(a.completion_tokens)]
                .map(function (x) { return h('td', { text: x }); }));
            }))
          ]));
        }
        var facts = [];
        if (S.filters) facts.push('Quality filters ' + JSON.stringify(S.filters.settings) + ': ' + fmt(S.filters.kept) + ' kept in ' + S.filters.file + '.');
        if (S.first_created) facts.push('First dialogue created ' + S.first_created + (S.last_completed ? ', last completed ' + S.last_completed : '') + '.');
        facts.forEach(function (f) { charts.appendChild(h('p', { class: 'facts', text: f })); });
        if (S.quality) {
          var quality = byId('quality');
          quality.innerHTML = S.quality; // built by dlg-export, every text escaped there (ReportQuality)
          quality.hidden = false;
        }

        // ---- Controls ----
        function options(select, list) {
          list.forEach(function (o) { select.appendChild(h('option', { value: o[0], text: o[1] })); });
        }
        var judgeReasons = Object.keys(S.judge_reasons);
        (S.judge_reason_names || []).forEach(function (r) { if (judgeReasons.indexOf(r) < 0) judgeReasons.push(r); });
        var turnCounts = Array.from(new Set(D.map(function (d) { return d.n; }))).sort(function (a, b) { return a - b; });
        options(byId('f-lang'), [['', 'all']].concat(S.languages.map(function (l) { return [l.language, l.language]; })));
        options(byId('f-status'), [['', 'all'], ['completed', 'completed'], ['dropped', 'dropped']].concat(S.active ? [['active', 'in progress']] : []));
        options(byId('f-reason'), [['', 'any'], ['none', 'no reason given']].concat(judgeReasons.map(function (r) {
          return [r, r + (S.judge_reasons[r] ? ' (' + S.judge_reasons[r] + ')' : '')];
        })));
        options(byId('f-drop'), [['', 'any']].concat(entries(S.drop_reasons).map(function (e) { return [e[0], e[0] + ' (' + e[1] + ')']; })));
        options(byId('f-turns'), [['', 'any']].concat(turnCounts.map(function (n) { return [String(n), String(n)]; })));
        options(byId('f-sort'), [['run', 'run order'], ['score-desc', 'score, high first'], ['score-asc', 'score, low first'],
          ['turns-desc', 'turns, most first'], ['turns-asc', 'turns, fewest first'], ['id', 'conversation id']]);
        options(byId('f-filter'), [['', 'all'], ['kept', 'kept'], ['removed', 'removed']]);
        byId('f-filter-label').hidden = !S.filters;

        var KEYS = ['q', 'lang', 'status', 'reason', 'drop', 'turns', 'sort', 'minScore', 'maxScore', 'filter'];
        var state = { sort: 'run' };
        var shown = D.slice();
        var selected = null;

        // One way in for a filter value, from a control or from the query string.
        function setFilter(key, value, fromControl) {
          if (KEYS.indexOf(key) < 0) return;
          value = value === null || value === undefined ? '' : String(value);
          if (key === 'minScore' || key === 'maxScore') value = value === '' || isNaN(Number(value)) ? '' : String(Number(value));
          state[key] = value || (key === 'sort' ? 'run' : '');
          var control = byId('f-' + key);
          if (!fromControl && control && control.value !== state[key]) {
            control.value = state[key];
            if (control.value !== state[key] && control.tagName === 'SELECT') {
              control.appendChild(h('option', { value: state[key], text: state[key] }));
              control.value = state[key];
            }
          }
        }

        function haystack(d) {
          if (d.text === undefined) {
            var parts = [d.id, d.topic, d.seed_question, d.drop || '', d.drop_detail || ''];
            d.turns.forEach(function (t) {
              parts.push(t.q, t.a, t.topic);
              if (t.judge) parts.push(t.judge.notes);
            });
            if (d.conversation) parts.push(d.conversation.notes);
            d.text = parts.join('\n').toLowerCase();
          }
          return d.text;
        }

        function matches(d) {
          if (state.lang && d.lang !== state.lang) return false;
          if (state.status && d.status !== state.status) return false;
          if (state.drop && d.drop !== state.drop) return false;
          if (state.turns && d.n !== Number(state.turns)) return false;
          if (state.reason === 'none' ? d.reasons.length > 0 : state.reason && d.reasons.indexOf(state.reason) < 0) return false;
          if (state.minScore !== undefined && state.minScore !== '' && (d.score === null || d.score < Number(state.minScore))) return false;
          if (state.maxScore !== undefined && state.maxScore !== '' && (d.score === null || d.score > Number(state.maxScore))) return false;
          if (state.filter === 'kept' && !(d.status === 'completed' && !d.filter)) return false;
          if (state.filter === 'removed' && !d.filter) return false;
          if (state.q && haystack(d).indexOf(state.q.toLowerCase()) < 0) return false;
          return true;
        }

        function compare(a, b) {
          var s = state.sort;
          if (s === 'score-desc' || s === 'score-asc') {
            if (a.score === null || b.score === null) return a.score === b.score ? a.order - b.order : a.score === null ? 1 : -1;
            return (s === 'score-desc' ? b.score - a.score : a.score - b.score) || a.order - b.order;
          }
          if (s === 'turns-desc') return b.n - a.n || a.order - b.order;
          if (s === 'turns-asc') return a.n - b.n || a.order - b.order;
          if (s === 'id') return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
          return a.order - b.order;
        }

        function writeQuery() {
          var p = new URLSearchParams();
          KEYS.forEach(function (k) { if (state[k] && !(k === 'sort' && state[k] === 'run')) p.set(k, state[k]); });
          var q = p.toString();
          try { history.replaceState(null, '', (q ? '?' + q : location.pathname) + location.hash); } catch (e) { /* file: URLs may refuse */ }
        }

        function apply(fromControl) {
          var t0 = performance.now();
          shown = D.filter(matches).sort(compare);
          document.body.setAttribute('data-shown', String(shown.length));
          byId('count').textContent = fmt(shown.length) + ' of ' + fmt(D.length) + ' dialogues';
          var list = byId('list');
          list.scrollTop = 0;
          byId('list-space').style.height = (shown.length * ROW) + 'px';
          drawList();
          if (fromControl) writeQuery();
          if (!selected && shown.length) select(shown[0].id, false);
          else if (selected) drawDetail(selected);
          document.body.setAttribute('data-apply-ms', String(Math.round(performance.now() - t0)));
        }

        // ---- The list: only the rows on screen, and OVERSCAN more on each side, are in the page ----
        var drawn = -1;
        function drawList() {
          var list = byId('list'), space = byId('list-space');
          var top = list.scrollTop, height = list.clientHeight || 600;
          var first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
          var last = Math.min(shown.length, Math.ceil((top + height) / ROW) + OVERSCAN);
          while (space.firstChild) space.removeChild(space.firstChild);
          for (var i = first; i < last; i++) space.appendChild(row(shown[i], i));
          drawn = first;
        }

        function row(d, i) {
          var first = d.turns.length ? d.turns[0].q : d.seed_question;
          var chips = [h('span', { class: 'chip', text: d.lang }), h('span', { class: 'chip', text: d.n + (d.n === 1 ? ' turn' : ' turns') })];
          if (d.status === 'dropped') chips.push(h('span', { class: 'chip drop', text: 'dropped: ' + (d.drop || 'unknown') }));
          else if (d.status !== 'completed') chips.push(h('span', { class: 'chip', text: d.status }));
          if (d.filter) chips.push(h('span', { class: 'chip off', text: d.filter }));
          d.reasons.slice(0, 2).forEach(function (r) { chips.push(h('span', { class: 'chip reason', text: r })); });
          return h('div', {
            class: 'row' + (selected === d.id ? ' sel' : ''), style: 'top:' + (i * ROW) + 'px', 'data-id': d.id, role: 'link',
            onclick: function () { go(d.id); }
          }, [
            h('div', { class: 'l1' }, [h('span', { class: 'id', text: d.id }), d.status === 'completed' || d.score !== null ? scoreBadge(d.score) : null]),
            h('div', { class: 'chips' }, chips),
            h('div', { class: 'l3', text: first || (d.n ? '' : 'no turn reached') })
          ]);
        }

        function go(id) {
          if (location.hash === '#' + encodeURIComponent(id)) select(id, false);
          else location.hash = encodeURIComponent(id);
        }

        function select(id, scrollList) {
          if (!index.has(id)) return;
          selected = id;
          document.body.setAttribute('data-selected', id);
          var rows = byId('list-space').children;
          for (var r = 0; r < rows.length; r++) rows[r].classList.toggle('sel', rows[r].getAttribute('data-id') === id);
          if (scrollList) {
            var at = shown.findIndex(function (d) { return d.id === id; });
            if (at >= 0) {
              var list = byId('list');
              if (at * ROW < list.scrollTop || (at + 1) * ROW > list.scrollTop + list.clientHeight) {
                list.scrollTop = Math.max(0, at * ROW - list.clientHeight / 3);
                drawList();
              }
            }
          }
          drawDetail(id);
        }

    """#
}
