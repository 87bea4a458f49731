/* Spoor's views of a case, shared by the HTML report and the web UI. Every value from evidence is
   hostile: it is put in the page with textContent, never as HTML. */
(function () {
  'use strict';
  var LEVELS = ['critical', 'high', 'medium', 'low', 'informational', 'unknown'];
  var COLOURS = { critical: '#7f1d1d', high: '#dc2626', medium: '#f59e0b', low: '#3b82f6', informational: '#94a3b8', unknown: '#cbd5e1' };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function level(l) { return el('span', { class: 'level ' + (LEVELS.indexOf(l) >= 0 ? l : 'unknown'), text: l }); }
  function pct(p) { return p < 0.001 ? '<0.1%' : (100 * p).toFixed(1) + '%'; }

  function cards(summary) {
    var levels = Object.keys(summary.byLevel).map(function (l) { return l + ' ' + summary.byLevel[l]; }).join(', ');
    var items = [
      [String(summary.detections), 'detections'],
      [String(summary.hosts.length), 'hosts: ' + summary.hosts.slice(0, 3).map(function (h) { return h.name; }).join(', ')],
      [summary.first ? summary.first.slice(0, 16).replace('T', ' ') : '–', 'first detection (UTC)'],
      [summary.last ? summary.last.slice(0, 16).replace('T', ' ') : '–', 'last detection (UTC)'],
      [String(summary.rules.length), 'rules fired'],
      [levels || 'none', 'by level'],
    ];
    return el('div', { class: 'cards' }, items.map(function (i) { return el('div', { class: 'card' }, [el('div', { class: 'n', text: i[0] }), el('div', { class: 'l', text: i[1] })]); }));
  }

  /* Detections over time, stacked by level (Chart.js). */
  function timeline(canvas, data) {
    return new Chart(canvas, {
      type: 'bar',
      data: { labels: data.labels, datasets: data.series.map(function (s) { return { label: s.level, data: s.counts, backgroundColor: COLOURS[s.level] || COLOURS.unknown, stack: 'd' }; }) },
      options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'Detections per ' + data.unit + ' (UTC)' } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
  }

  function levelsChart(canvas, byLevel) {
    var names = Object.keys(byLevel);
    return new Chart(canvas, {
      type: 'doughnut',
      data: { labels: names, datasets: [{ data: names.map(function (l) { return byLevel[l]; }), backgroundColor: names.map(function (l) { return COLOURS[l] || COLOURS.unknown; }) }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: 'By level' } } },
    });
  }

  /* The ATT&CK matrix, each technique shaded by how many detections showed it, its sub-techniques seen listed under it. */
  function matrix(columns) {
    var max = 1;
    columns.forEach(function (c) { c.techniques.forEach(function (t) { if (t.count > max) max = t.count; }); });
    function cell(t, sub) {
      var box = el('div', { class: 'cell' + (sub ? ' sub' : '') + (t.count ? ' seen' : ''), title: t.id + ' ' + t.name + (t.count ? ': ' + t.count + ' detection(s)' : ''), 'data-technique': t.id, text: t.name });
      if (t.count) box.style.background = 'rgba(220, 38, 38, ' + (0.25 + 0.75 * t.count / max).toFixed(2) + ')';
      return box;
    }
    return el('div', { class: 'matrix' }, columns.map(function (c) {
      return el('div', { class: 'col' }, [el('h3', { text: c.name })].concat(c.techniques.reduce(function (cells, t) {
        return cells.concat([cell(t, false)], (t.subs || []).map(function (x) { return cell(x, true); }));
      }, [])));
    }));
  }

  function exposure(list) {
    var box = el('div');
    list.forEach(function (x) {
      box.appendChild(el('p', { text: (x.product || 'Exchange') + ' ' + (x.cu || '') + ' (build ' + x.build + '): open to ' + x.cves.length + ' known-exploited CVE(s)' }));
      var rows = x.cves.map(function (c) { return el('tr', null, [el('td', { text: c.cve }), el('td', { text: c.fixedBy }), el('td', { text: c.name })]); });
      box.appendChild(el('table', null, [el('thead', null, [el('tr', null, [el('th', { text: 'CVE' }), el('th', { text: 'fixed by' }), el('th', { text: 'what' })])]), el('tbody', null, rows)]));
    });
    return box;
  }

  /* The mailboxes the intruder reached: one row each, then exports fetched, unnamed requests, rights to mail given. */
  function mailAccess(m) {
    var box = el('div', { id: 'mail-access-view' });
    var when = function (t) { return t ? String(t).slice(0, 19).replace('T', ' ') : ''; };
    var join = function (xs) { return (xs || []).join(', '); };
    var levelOf = { high: 'high', medium: 'medium', low: 'low' };
    if (!m.mailboxes.length) box.appendChild(el('p', { class: 'muted', text: 'No mailbox access tied to the intrusion was found in these logs.' }));
    else {
      var rows = m.mailboxes.map(function (x) {
        var reached = [join(x.folders), x.items !== undefined ? x.items + ' items' : '', join(x.exports), join(x.downloads), (x.sent || []).length ? 'sent ' + join(x.sent) : ''].filter(Boolean).join('; ');
        return el('tr', { class: 'mailbox' }, [el('td', { text: x.mailbox }), el('td', { text: when(x.first) }), el('td', { text: when(x.last) }), el('td', null, [level(levelOf[x.confidence] || 'unknown')]),
          el('td', { text: join(x.kinds) + ' (' + join(x.protocols) + ')' }), el('td', { text: join(x.ips) }), el('td', { text: join((x.apps || []).concat(x.identities || [])) }), el('td', { text: reached }),
          el('td', { text: (x.reasons || []).join(' · ') })]);
      });
      box.appendChild(el('table', { id: 'mailboxes' }, [el('thead', null, [el('tr', null, ['mailbox', 'first (UTC)', 'last (UTC)', 'confidence', 'how', 'from', 'by', 'reached', 'why'].map(function (h) { return el('th', { text: h }); }))]), el('tbody', null, rows)]));
    }
    if (m.downloads.length) box.appendChild(el('div', null, [el('strong', { text: 'Exports fetched over the web' }), el('ul', null, m.downloads.map(function (d) { return el('li', { text: when(d.time) + '  ' + d.path + ' from ' + (d.ip || '?') }); }))]));
    if (m.unnamed_requests.length) box.appendChild(el('p', { class: 'muted', text: m.unnamed_requests.length + ' requests by the intrusion\'s sessions to mail endpoints name no mailbox (a forged request carries it in its body, which no log keeps).' }));
    if (m.grants.length) box.appendChild(el('div', null, [el('strong', { text: 'Rights to mail given' }), el('ul', null, m.grants.map(function (g) { return el('li', { text: when(g.time) + '  ' + g.what + (g.app ? ': ' + g.app : '') + (g.permissions ? ' (' + g.permissions + ')' : '') + (g.identity ? ' by ' + g.identity : '') }); }))]));
    var ties = Object.keys(m.actors.ips).concat(Object.keys(m.actors.apps), Object.keys(m.actors.identities));
    box.appendChild(el('p', { class: 'muted', text: ties.length ? 'Tied to the intrusion by: ' + ties.join(', ') : 'No address, identity or application of the intrusion is known: only changes that open a mailbox are listed.' }));
    return box;
  }

  function reason(r) { return (r.name ? r.name + ' (' + r.value + ')' : r.kind + ' ' + r.value) + ': ' + r.note; }
  function list(title, reasons, limit) {
    return el('div', null, [el('strong', { text: title }), reasons.length ? el('ul', null, reasons.slice(0, limit).map(function (r) { return el('li', { text: reason(r) }); })) : el('span', { class: 'muted', text: ' nothing' })]);
  }

  /* A group as people know it: its ATT&CK name, Microsoft's beside it. */
  function groupName(c) { return c.microsoftName && c.microsoftName.toLowerCase() !== c.name.toLowerCase() ? c.name + ' (' + c.microsoftName + ')' : c.name; }

  /* Competing hypotheses: the leading one in a sentence, the ranking with probabilities (the unknown
     hypothesis in its place), then each leader's case for and against. */
  function attribution(box, a, note) {
    if (!a) { box.appendChild(el('p', { class: 'muted', text: note || 'No attribution was made.' })); return; }
    if (a.headline) box.appendChild(el('p', { class: 'headline' + (a.unknownLeads ? ' unknown-leads' : ''), text: a.headline }));
    var entries = a.candidates.map(function (c) { return { label: groupName(c) + ' (' + c.id + ')', p: c.probability, row: [String(c.rank), c.id, groupName(c), pct(c.probability), c.likelihood] }; });
    entries.push({ label: 'unknown or unlisted group', p: a.unknown.probability, row: ['–', '–', 'unknown or unlisted group', pct(a.unknown.probability), a.unknown.likelihood] });
    entries.sort(function (x, y) { return y.p - x.p; });
    var canvas = el('canvas');
    box.appendChild(el('div', { class: 'chart', style: 'height:' + (60 + 28 * entries.length) + 'px' }, [canvas]));
    new Chart(canvas, { type: 'bar', data: { labels: entries.map(function (e) { return e.label; }), datasets: [{ label: 'probability (%)', data: entries.map(function (e) { return +(100 * e.p).toFixed(1); }), backgroundColor: '#1d4ed8' }] },
      options: { indexAxis: 'y', responsive: true, maintainAspectRatio: false, animation: false, scales: { x: { min: 0, max: 100 } }, plugins: { legend: { display: false } } } });
    var rows = entries.map(function (e) { return el('tr', null, e.row.map(function (t) { return el('td', { text: t }); })); });
    box.appendChild(el('table', { class: 'hypotheses' }, [el('thead', null, [el('tr', null, ['#', 'id', 'group', 'probability', 'likelihood (ICD 203)'].map(function (h) { return el('th', { text: h }); }))]), el('tbody', null, rows)]));
    a.candidates.slice(0, 3).forEach(function (c) {
      var parts = [el('h3', { text: groupName(c) + ' (' + c.id + '): ' + c.likelihood + ', ' + pct(c.probability) })];
      var about = [];
      if (c.otherNames && c.otherNames.length) about.push('also called ' + c.otherNames.join(', '));
      if (c.origin) about.push('suspected origin ' + c.origin + (c.sponsor ? ', state sponsor ' + c.sponsor : '') + ' (MISP galaxy)');
      if (about.length) parts.push(el('p', { class: 'muted', text: about.join('; ') }));
      parts.push(list('Consistent with it', c.supporting, 10), list('Inconsistent with it', c.inconsistent.filter(function (r) { return r.weight < 0 || r.kind !== 'technique'; }), 8));
      if (c.alternative) {
        parts.push(list('Against ' + groupName(c.alternative) + ' (' + pct(c.alternative.probability) + '), favours ' + c.name, c.alternative.favours, 6));
        parts.push(list('Favours ' + c.alternative.name, c.alternative.disfavours, 6));
      }
      box.appendChild(el('div', { class: 'hyp' }, parts));
    });
    (a.notes || []).forEach(function (n) { box.appendChild(el('p', { class: 'muted', text: 'Note: ' + n })); });
    var sources = a.knowledge.sources && a.knowledge.sources.length ? a.knowledge.sources.join('; ') : 'ATT&CK ' + a.knowledge.attack;
    box.appendChild(el('p', { class: 'muted', text: sources + '; ' + a.knowledge.groups + ' groups. Probabilities are calibrated estimates, not proof.' }));
  }

  /* A row that opens to show what matched and the whole event. */
  function detectionRows(d) {
    var row = el('tr', { class: 'row' }, [el('td', { text: d.time }), el('td', null, [level(d.level)]), el('td', { text: d.rule }), el('td', { text: d.host }), el('td', { text: d.channel + ' ' + d.eventId }), el('td', { text: (d.techniques || []).join(' ') })]);
    var detail = el('tr', { class: 'detail', hidden: '' }, [el('td', { colspan: '6' }, [el('pre', { text: JSON.stringify({ rule_id: d.ruleId, file: d.file, record_id: d.recordId, matched: d.matched, event: d.event }, null, 2) })])]);
    row.addEventListener('click', function () { detail.hidden = !detail.hidden; });
    return [row, detail];
  }
  var HEAD = [['time', 'time'], ['level', 'level'], ['rule', 'rule'], ['host', 'host'], ['event', 'channel'], ['techniques', 'techniques']];
  function detectionsHead(onSort) {
    return el('thead', null, [el('tr', null, HEAD.map(function (h) {
      var th = el('th', { text: h[0], 'data-key': h[1] });
      if (onSort) th.addEventListener('click', function () { onSort(h[1], th); });
      return th;
    }))]);
  }

  function values(v, out, depth) {
    if (v === null || v === undefined || depth > 64) return;
    if (typeof v === 'object') { Object.keys(v).forEach(function (k) { values(v[k], out, depth + 1); }); return; }
    out.push(String(v));
  }

  /* The whole detections table, filtered and sorted in the page (the report holds its rows). */
  function detectionsTable(box, rows) {
    var text = el('input', { type: 'search', placeholder: 'filter: rule, host, any value of the event…', 'aria-label': 'filter detections' });
    var lvl = el('select', { 'aria-label': 'level' }, [el('option', { value: '', text: 'all levels' })].concat(LEVELS.map(function (l) { return el('option', { value: l, text: l + ' and above' }); })));
    var count = el('span', { class: 'muted' });
    var body = el('tbody');
    var sortKey = 'time', sortDir = 1;
    var table = el('table', { class: 'detections' }, [detectionsHead(function (key, th) {
      sortDir = key === sortKey ? -sortDir : 1; sortKey = key;
      Array.prototype.forEach.call(table.querySelectorAll('th'), function (x) { x.className = ''; });
      th.className = sortDir > 0 ? 'sorted-asc' : 'sorted-desc';
      draw();
    }), body]);
    // Every value of the detection, its event included (the attacker's address, a command line), as the text it is (not JSON-escaped).
    var searchable = rows.map(function (d) { var out = []; values([d.rule, d.host, d.channel, d.eventId, d.file, d.matched, d.techniques, d.event], out, 0); return out.join('\n').toLowerCase(); });
    function rank(l) { var i = LEVELS.indexOf(l); return i < 0 ? LEVELS.length : i; }
    function draw() {
      var q = text.value.trim().toLowerCase(), min = lvl.value ? rank(lvl.value) : LEVELS.length;
      var shown = rows.map(function (d, i) { return i; }).filter(function (i) { return rank(rows[i].level) <= min && (!q || searchable[i].indexOf(q) >= 0); });
      shown.sort(function (a, b) {
        var x = rows[a], y = rows[b];
        var u = sortKey === 'level' ? rank(x.level) : String(x[sortKey] || ''), v = sortKey === 'level' ? rank(y.level) : String(y[sortKey] || '');
        return (u < v ? -1 : u > v ? 1 : 0) * sortDir;
      });
      body.textContent = '';
      shown.slice(0, 2000).forEach(function (i) { detectionRows(rows[i]).forEach(function (r) { body.appendChild(r); }); });
      count.textContent = shown.length + ' of ' + rows.length + ' detections' + (shown.length > 2000 ? ' (first 2000 shown; filter to narrow)' : '');
    }
    text.addEventListener('input', draw);
    lvl.addEventListener('change', draw);
    box.appendChild(el('div', { class: 'filters' }, [text, lvl, count]));
    box.appendChild(table);
    draw();
  }

  window.SpoorRender = { el: el, level: level, cards: cards, timeline: timeline, levelsChart: levelsChart, matrix: matrix, exposure: exposure, mailAccess: mailAccess, attribution: attribution, detectionsTable: detectionsTable, detectionRows: detectionRows, detectionsHead: detectionsHead, LEVELS: LEVELS };
})();
