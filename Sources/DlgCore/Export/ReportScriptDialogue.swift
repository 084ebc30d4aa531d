// The second part of report.html's script (`ReportAssets.script`): one dialogue's view, the wiring
// of the controls, the start.

extension ReportAssets {
    static let scriptDialogue = #"""
        // ---- One dialogue ----
        function verdictLine(v, label) {
          if (!v) return h('div', { class: 'verdict' }, [h('span', { class: 'chip', text: 'no ' + label + ' verdict' })]);
          var parts = [scoreBadge(v.score, label + ' score')];
          (v.reasons || []).forEach(function (r) { parts.push(h('span', { class: 'chip reason', text: r })); });
          if (v.question_ok !== null && v.question_ok !== undefined) parts.push(h('span', { class: v.question_ok ? 'ok' : 'notok', text: (v.question_ok ? '✓' : '✗') + ' question' }));
          if (v.answer_ok !== null && v.answer_ok !== undefined) parts.push(h('span', { class: v.answer_ok ? 'ok' : 'notok', text: (v.answer_ok ? '✓' : '✗') + ' answer' }));
          if (v.notes) parts.push(h('span', { class: 'notes', text: v.notes }));
          return h('div', { class: 'verdict' }, parts);
        }

        function turnView(t) {
          var head = [h('b', { text: 'Turn ' + t.i })];
          [['mode', t.mode], ['intent', t.intent], ['difficulty', t.difficulty], ['topic', t.topic], ['source', t.source]]
            .forEach(function (p) { if (p[1]) head.push(h('span', { class: 'chip', text: p[0] + ': ' + p[1] })); });
          if (t.attempt > 1) head.push(h('span', { class: 'chip', text: 'attempt ' + t.attempt }));
          var out = [h('div', { class: 'turn-head' }, head),
            h('div', { class: 'msg user' }, [h('div', { class: 'who', text: 'User' }), t.q]),
            h('div', { class: 'msg assistant' }, [h('div', { class: 'who', text: 'Assistant' + (t.confidence ? ' · confidence ' + t.confidence : '') }), t.a]),
            verdictLine(t.judge, 'judge')];
          var ev = t.evidence || [], pr = t.premises || [];
          if (ev.length || pr.length) {
            out.push(h('details', { class: 'grounding' }, [
              h('summary', { text: 'Evidence ' + ev.length + ' · premises ' + pr.length }),
              ev.length ? h('ol', null, ev.map(function (e) {
                return h('li', null, [h('b', { text: e.id + ' ' }), e.cue ? h('i', { text: e.cue + ' — ' }) : null, e.content]);
              })) : null,
              pr.length ? h('ol', null, pr.map(function (p) {
                var refs = (p.evidence_refs || []).join(', ');
                return h('li', null, [h('b', { text: p.id + ' ' }), p.text, refs ? ' (from ' + refs + ')' : null,
                  p.assumption ? h('i', { text: ' assumption: ' + p.assumption }) : null]);
              })) : null
            ]));
          }
          var tools = t.tools || [];
          if (tools.length) {
            var count = tools.reduce(function (n, x) { return n + (x.passages ? x.passages.length : 0); }, 0);
            var body = [h('summary', { text: 'Tool calls ' + tools.length + ' · passages ' + count })];
            tools.forEach(function (x) {
              body.push(h('div', { class: 'tool-q' }, [x.name + ' ', h('code', { text: x.query || '' })]));
              if (x.error) body.push(h('div', { class: 'passage', text: x.error }));
              (x.passages || []).forEach(function (pi) {
                var p = PASSAGES[pi] || { source: '?', chunk: null, text: '' };
                body.push(h('div', { class: 'passage' }, [h('cite', { text: p.source + (p.chunk !== null ? ' · chunk ' + p.chunk : '') }), p.text]));
              });
            });
            out.push(h('details', { class: 'tools' }, body));
          }
          return h('div', { class: 'turn' }, out);
        }

        function drawDetail(id) {
          var d = index.get(id), box = byId('detail');
          while (box.firstChild) box.removeChild(box.firstChild);
          if (!d) { box.appendChild(h('p', { class: 'empty', text: 'No dialogue selected.' })); return; }
          var chips = [h('span', { class: 'chip', text: d.lang }), h('span', { class: 'chip', text: d.n + ' of ' + d.target + ' turns' })];
          chips.push(h('span', { class: 'chip' + (d.status === 'dropped' ? ' drop' : ''), text: d.status }));
          if (d.filter) chips.push(h('span', { class: 'chip off', text: 'removed by ' + d.filter }));
          else if (S.filters && d.status === 'completed') chips.push(h('span', { class: 'chip', text: 'passes the quality filters' }));
          if (d.score !== null) chips.unshift(scoreBadge(d.score, 'dialogue score (mean of its verdicts)'));
          var u = persona(d.user), a = persona(d.assistant);
          var meta = [];
          function fact(k, v) { if (v) { meta.push(h('dt', { text: k })); meta.push(h('dd', { text: v })); } }
          fact('User persona', u ? (u.id ? u.id + ' — ' : '') + u.text : '');
          fact('Assistant persona', a ? (a.id ? a.id + ' — ' : '') + a.text : '');
          fact('Seed topic', d.topic);
          fact('Seed question', d.seed_question);
          fact('Tokens', d.tokens ? fmt(d.tokens) + ' in ' + fmt(d.requests) + ' requests' : '');
          var parts = [h('h2', { text: d.id }), h('div', { class: 'chips' }, chips), h('dl', { class: 'meta' }, meta)];
          if (!shown.some(function (x) { return x.id === d.id; })) {
            parts.push(h('div', { class: 'note hidden-by-filter', text: 'This dialogue is not among those the current filters show.' }));
          }
          if (d.status === 'dropped') {
            parts.push(h('div', { class: 'note drop' }, [h('b', { text: 'Dropped: ' + (d.drop || 'unknown reason') }),
              d.drop_detail ? ' — ' + d.drop_detail : null, h('div', { text: 'It had reached ' + d.n + ' of ' + d.target + ' turns.' })]));
          }
          if (d.conversation) parts.push(h('div', { class: 'note conv' }, [h('b', { text: 'Conversation verdict' }), verdictLine(d.conversation, 'conversation')]));
          d.turns.forEach(function (t) { parts.push(turnView(t)); });
          if (!d.turns.length) parts.push(h('p', { class: 'empty', text: 'No turn was completed.' }));
          parts.forEach(function (p) { box.appendChild(p); });
          box.scrollTop = 0;
        }

        // ---- Wiring ----
        KEYS.forEach(function (k) {
          var control = byId('f-' + k);
          if (!control) return;
          var timer = null;
          var handler = function () {
            setFilter(k, control.value, true);
            if (k === 'q') { clearTimeout(timer); timer = setTimeout(function () { apply(true); }, 120); } else apply(true);
          };
          control.addEventListener(k === 'q' || control.type === 'number' ? 'input' : 'change', handler);
        });
        byId('clear').addEventListener('click', function () {
          KEYS.forEach(function (k) { setFilter(k, ''); });
          apply(true);
        });
        var pending = false;
        byId('list').addEventListener('scroll', function () {
          if (pending) return;
          pending = true;
          requestAnimationFrame(function () { pending = false; drawList(); });
        });
        byId('list').addEventListener('keydown', function (e) {
          if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
          var at = shown.findIndex(function (d) { return d.id === selected; });
          var next = shown[Math.max(0, Math.min(shown.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))];
          if (next) { e.preventDefault(); go(next.id); }
        });
        // A hand-edited link may hold a bad % escape (#%E0%A4%A): then the text as written, never a throw.
        function hashID() {
          var raw = location.hash.slice(1);
          try { return decodeURIComponent(raw); } catch (e) { return raw; }
        }
        function fromHash() {
          var id = hashID();
          if (id && index.has(id)) select(id, true);
        }
        window.addEventListener('hashchange', fromHash);
        window.addEventListener('resize', function () { drawList(); });

        var params = new URLSearchParams(location.search);
        KEYS.forEach(function (k) { if (params.has(k)) setFilter(k, params.get(k)); });
        var hashed = hashID();
        if (hashed && index.has(hashed)) selected = hashed;
        apply(false);
        if (selected) select(selected, true);
        document.body.setAttribute('data-total', String(D.length));
        document.body.setAttribute('data-render-ms', String(Math.round(performance.now() - started)));
        // Since the navigation started: loading and parsing the file, then the script.
        document.body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
        document.body.setAttribute('data-ready', '1');
      }
    })();
    """#
}
