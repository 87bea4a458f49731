/* Spoor's web UI: cases, uploads, hunts with live progress, and the case's views. The token comes in
   the address's #fragment (never sent to a server), is kept in this origin's sessionStorage (other
   ports of 127.0.0.1 are other origins: they cannot read it, where a cookie would be sent to them),
   and goes with every API request as Authorization: Bearer. */
(function () {
  'use strict';
  var R = window.SpoorRender, el = R.el;
  var $ = function (id) { return document.getElementById(id); };
  var current = null, poller = null, charts = [], drawing = 0;
  var token = (function () {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem('spoor-token', decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname);
    }
    return sessionStorage.getItem('spoor-token') || '';
  })();

  function request(method, path, init) {
    init = init || {};
    init.method = method;
    init.headers = init.headers || {};
    init.headers.Authorization = 'Bearer ' + token;
    init.credentials = 'omit';
    return fetch(path, init);
  }

  function api(method, path, body, raw) {
    var init = { headers: {} };
    if (raw !== undefined) { init.body = raw; init.headers['Content-Type'] = 'application/octet-stream'; }
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
    return request(method, path, init).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
    });
  }

  function listCases() {
    return api('GET', '/api/cases').then(function (cases) {
      var body = $('cases'); body.textContent = '';
      cases.forEach(function (c) {
        var tr = el('tr', { class: 'case', 'data-case': String(c.id) }, [el('td', { text: String(c.id) }), el('td', { text: c.name }), el('td', { text: c.kind }), el('td', { text: c.status }), el('td', { text: String(c.detections) }), el('td', { text: c.created.slice(0, 19).replace('T', ' ') })]);
        tr.addEventListener('click', function () { openCase(c.id); });
        body.appendChild(tr);
      });
    });
  }

  $('new-case').addEventListener('submit', function (ev) {
    ev.preventDefault();
    $('create-error').textContent = '';
    api('POST', '/api/cases', { name: $('case-name').value, kind: $('case-kind').value, evidencePath: $('case-path').value || null })
      .then(function (c) { $('new-case').reset(); return listCases().then(function () { openCase(c.id); }); })
      .catch(function (e) { $('create-error').textContent = e.message; });
  });
  $('back').addEventListener('click', function (ev) { ev.preventDefault(); showList(); });
  $('rename-case').addEventListener('click', function () {
    var name = window.prompt('New name for this case', $('case-title').textContent);
    if (name && name.trim()) api('PATCH', '/api/cases/' + current, { name: name.trim() }).then(function () { return refresh(false); }).catch(function (e) { $('case-message').textContent = e.message; });
  });
  $('delete-case').addEventListener('click', function () {
    if (!window.confirm('Delete this case, its uploads, detections and reports? The evidence folder it points at is left as it is.')) return;
    request('DELETE', '/api/cases/' + current).then(function (r) {
      if (!r.ok) return r.json().then(function (j) { throw new Error(j.error || r.statusText); });
      showList();
    }).catch(function (e) { $('case-message').textContent = e.message; });
  });

  function showList() {
    current = null; stopPolling();
    $('case-view').hidden = true; $('cases-view').hidden = false;
    listCases();
  }

  function openCase(id) {
    current = id;
    $('cases-view').hidden = true; $('case-view').hidden = false;
    selectTab('overview');
    refresh(true);
  }

  function refresh(draw) {
    return api('GET', '/api/cases/' + current).then(function (c) {
      $('case-title').textContent = c.name;
      $('case-meta').textContent = c.kind + ' · ' + (c.evidencePath ? 'evidence: ' + c.evidencePath + ' · ' : '') + c.files.length + ' uploaded file(s) · ' + c.detections + ' detections';
      // The rule set and feeds every hunt runs with, and what the last hunt loaded of them (its log's count line).
      var loaded = (c.notes || []).filter(function (l) { return / rules and \d+ correlations loaded/.test(l); }).pop();
      $('case-rules').textContent = c.ruleSet ? 'Rules: ' + c.ruleSet.rules + (loaded ? ' (' + loaded.replace(/^spoor [\w ]+: /, '') + ')' : '') + ' · IoC feeds: ' + (c.ruleSet.iocFeeds.length ? c.ruleSet.iocFeeds.join(', ') : 'none') : '';
      $('hunt-status').textContent = 'status: ' + c.status;
      $('case-view').setAttribute('data-status', c.status);
      $('case-message').textContent = c.message || '';
      showNotes(c.notes || []);
      $('run-hunt').disabled = c.status === 'running';
      showProgress(c);
      if (c.status === 'running') startPolling();
      else { stopPolling(); if (draw) drawTabs(c); }
      return c;
    });
  }

  /* What the last hunt said about its input and rules (files skipped, rules not loaded): beside its results, not in a server log. */
  function showNotes(notes) {
    var box = $('hunt-notes'); box.textContent = '';
    box.hidden = !notes.length;
    if (!notes.length) return;
    box.appendChild(el('summary', { text: 'What the hunt said about its input, rules and results (' + notes.length + ' line' + (notes.length === 1 ? '' : 's') + ')' }));
    box.appendChild(el('pre', { text: notes.join('\n') }));
  }

  function showProgress(c) {
    var p = c.progress || {};
    $('progress').hidden = c.status !== 'running';
    var share = p.totalBytes ? p.bytes / p.totalBytes : 0;
    $('progress-bar').style.width = (100 * share).toFixed(0) + '%';
    if (c.status === 'running') $('hunt-status').textContent = 'status: ' + (p.phase || 'running') + (p.totalFiles ? ' · ' + p.files + '/' + p.totalFiles + ' files · ' + p.events + ' events · ' + p.detections + ' detections' : '');
  }

  function startPolling() {
    if (poller) return;
    var busy = false;
    poller = setInterval(function () {
      if (busy) return;
      busy = true;
      refresh(false).then(function (c) { busy = false; if (c.status !== 'running') drawTabs(c); }, function () { busy = false; });
    }, 1000);
  }
  function stopPolling() { if (poller) { clearInterval(poller); poller = null; } }

  $('upload').addEventListener('change', function () {
    var files = Array.prototype.slice.call($('upload').files);
    var id = current;
    var refused = [];
    // One file refused (its name, its size) does not stop the others: each is tried, the refusals listed after.
    files.reduce(function (p, f) {
      return p.then(function () {
        $('hunt-status').textContent = 'uploading ' + f.name + '…';
        return api('PUT', '/api/cases/' + id + '/files/' + encodeURIComponent(f.name), undefined, f).catch(function (e) { refused.push(f.name + ': ' + e.message); });
      });
    }, Promise.resolve()).then(function () {
      $('upload').value = '';
      return refresh(false);
    }).then(function () { $('case-message').textContent = refused.join('\n'); }).catch(function (e) { $('case-message').textContent = e.message; });
  });

  $('run-hunt').addEventListener('click', function () {
    var sector = $('sector').value.trim();
    // A run that has already ended when its status is first read (killed at once, or quick) is drawn now: no poll will see it end.
    api('POST', '/api/cases/' + current + '/hunt', { sectors: sector ? [sector] : [] }).then(function () { return refresh(true); }).catch(function (e) { $('case-message').textContent = e.message; });
  });

  var tabs = Array.prototype.slice.call(document.querySelectorAll('#tabs button'));
  tabs.forEach(function (b, i) {
    b.addEventListener('click', function () { selectTab(b.getAttribute('data-tab')); });
    // Arrow keys move between tabs, as in any tab list.
    b.addEventListener('keydown', function (ev) {
      var to = ev.key === 'ArrowRight' ? i + 1 : ev.key === 'ArrowLeft' ? i - 1 : ev.key === 'Home' ? 0 : ev.key === 'End' ? tabs.length - 1 : null;
      if (to === null) return;
      ev.preventDefault();
      var t = tabs[(to + tabs.length) % tabs.length];
      selectTab(t.getAttribute('data-tab')); t.focus();
    });
  });
  function selectTab(name) {
    tabs.forEach(function (b) {
      var on = b.getAttribute('data-tab') === name;
      b.className = on ? 'active' : ''; b.setAttribute('aria-selected', String(on)); b.tabIndex = on ? 0 : -1;
    });
    ['overview', 'detections', 'attribution', 'downloads'].forEach(function (t) { $('tab-' + t).hidden = t !== name; });
  }

  function drawTabs(c) {
    // Views are drawn from answers that arrive later: only those of the latest drawing are used.
    var mine = ++drawing;
    var fresh = function (f) { return function (x) { if (mine === drawing && current === c.id) f(x); }; };
    charts.forEach(function (ch) { ch.destroy(); }); charts = [];
    ['overview', 'detections', 'attribution', 'downloads'].forEach(function (t) { $('tab-' + t).textContent = ''; });
    if (!c.results) { $('tab-overview').appendChild(el('p', { class: 'muted', text: 'Run a hunt to see its results.' })); return; }
    if (c.status !== 'done') $('tab-overview').appendChild(el('p', { class: 'error', id: 'earlier-results', text: 'The latest run is ' + c.status + ': these are the results of the last hunt that finished.' }));
    api('GET', '/api/cases/' + c.id + '/summary').then(fresh(function (s) {
      var t = el('canvas', { id: 'timeline-chart' }), l = el('canvas');
      $('tab-overview').appendChild(R.cards(s.summary));
      $('tab-overview').appendChild(el('div', { class: 'charts' }, [el('div', { class: 'chart' }, [t]), el('div', { class: 'chart' }, [l])]));
      var tl = R.timeline(t, s.timeline);
      // A bar opens the detections of its minute, hour or day.
      var span = { minute: 60000, hour: 3600000, day: 86400000 }[s.timeline.unit];
      tl.options.onClick = function (ev, bars) {
        if (!bars.length || !view) return;
        var start = Date.parse(s.timeline.labels[bars[0].index].replace(' ', 'T') + (s.timeline.unit === 'day' ? 'T00:00' : '') + 'Z');
        if (!isNaN(start)) view.show({ from: new Date(start).toISOString(), to: new Date(start + span - 1).toISOString() });
      };
      tl.options.onHover = function (ev, bars) { t.style.cursor = bars.length ? 'pointer' : 'default'; };
      tl.update();
      charts.push(tl, R.levelsChart(l, s.summary.byLevel));
      var rules = s.summary.rules.slice().sort(function (a, b) { return b.count - a.count; }).map(function (r) { return { name: r.title, count: r.count }; });
      var phrase = function (text) { return '"' + String(text).replace(/"/g, ' ') + '"'; };
      $('tab-overview').appendChild(el('div', { class: 'tops' }, [
        topTable('top-rules', 'Top rules', rules, function (r) { return { q: 'rule:' + phrase(r.name) }; }),
        topTable('top-hosts', 'Top hosts', s.summary.hosts, function (h) { return h.name === 'unknown host' ? {} : { host: h.name }; }),
      ].concat(s.indicators.length ? [topTable('top-indicators', 'Indicators of compromise seen', s.indicators.map(function (x) {
        return { name: x.type + ' ' + x.value + (x.name ? ' (' + x.name + ')' : '') + ' · ' + x.feed, value: x.value, count: x.count };
      }), function (x) { return { q: phrase(x.value) }; })] : [])));
      if (s.techniques.length) {
        var m = R.matrix(s.matrix);
        // A technique seen opens its detections (sub-techniques too: technique:T1505 finds T1505.003).
        Array.prototype.forEach.call(m.querySelectorAll('.cell.seen'), function (cell) {
          cell.setAttribute('role', 'button'); cell.setAttribute('tabindex', '0');
          var open = function () { if (view) view.show({ q: 'technique:' + cell.getAttribute('data-technique') }); };
          cell.addEventListener('click', open);
          cell.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } });
        });
        $('tab-overview').appendChild(m);
      }
      if (s.exposure.length) $('tab-overview').appendChild(R.exposure(s.exposure));
      if (s.mailAccess) $('tab-overview').appendChild(el('section', { id: 'mail-access' }, [el('h3', { text: 'Mailboxes reached' }), R.mailAccess(s.mailAccess)]));
      detectionsView(c, s);
    }));
    api('GET', '/api/cases/' + c.id + '/attribution').then(fresh(function (a) { R.attribution($('tab-attribution'), a.attribution, a.note); }));
    var box = $('tab-downloads');
    [['html', 'HTML report'], ['stix', 'STIX 2.1 bundle'], ['navigator', 'ATT&CK Navigator layer'], ['jsonl', 'detections (JSONL)']].forEach(function (d) {
      var link = el('a', { href: '#', id: 'download-' + d[0], text: d[1] });
      link.addEventListener('click', function (ev) { ev.preventDefault(); download('/api/cases/' + c.id + '/download/' + d[0], 'case-' + c.id + '-' + d[0]); });
      box.appendChild(el('p', null, [link]));
    });
  }

  /* A link cannot carry the Authorization header: the file is fetched with it and saved from memory. */
  function download(path, fallback) {
    request('GET', path).then(function (r) {
      if (!r.ok) return r.json().then(function (j) { throw new Error(j.error || r.statusText); });
      var name = (/filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '') || [])[1] || fallback;
      return r.blob().then(function (b) {
        var url = URL.createObjectURL(b);
        var a = el('a', { href: url, download: name });
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      });
    }).catch(function (e) { $('case-message').textContent = 'download: ' + e.message; });
  }

  /* Detections are paged, searched, filtered and sorted by the server (a case can hold millions). */
  var view = null;
  function detectionsView(c, s) {
    var box = $('tab-detections');
    var st = { q: '', level: '', host: '', label: '', from: '', to: '', sort: 'time', desc: false, offset: 0 };
    var label = el('select', { 'aria-label': 'analyst label', id: 'detections-label' }, [el('option', { value: '', text: 'any label' })].concat((c.labels || []).map(function (l) { return el('option', { value: l.label, text: l.label + ' (' + l.n + ')' }); })));
    var q = el('input', { type: 'search', placeholder: 'search: words, "phrases", field:value (CommandLine:whoami), any value of the event', 'aria-label': 'search detections', id: 'detections-filter', size: 60 });
    var lvl = el('select', { 'aria-label': 'level', id: 'detections-level' }, [el('option', { value: '', text: 'all levels' })].concat(['critical', 'high', 'medium', 'low', 'informational'].map(function (l) { return el('option', { value: l, text: l + ' and above' }); })));
    var host = el('select', { 'aria-label': 'host', id: 'detections-host' }, [el('option', { value: '', text: 'all hosts' })].concat(s.summary.hosts.map(function (h) { return el('option', { value: h.name === 'unknown host' ? '' : h.name, text: h.name + ' (' + h.count + ')' }); })));
    var from = el('input', { type: 'text', placeholder: 'from (UTC) 2021-03-03T00:00', 'aria-label': 'from time (UTC)', id: 'detections-from', size: 22 });
    var to = el('input', { type: 'text', placeholder: 'to (UTC)', 'aria-label': 'to time (UTC)', id: 'detections-to', size: 22 });
    var count = el('span', { class: 'muted', id: 'detections-count', 'aria-live': 'polite' });
    var exportCsv = el('button', { text: 'Export CSV', id: 'detections-export', title: 'every detection of this view, as CSV' });
    var body = el('tbody', { id: 'detections-body' });
    var prev = el('button', { text: '← previous', id: 'detections-prev' }), next = el('button', { text: 'next →', id: 'detections-next' });
    var size = 100, timer = null, loads = 0;
    var head = el('thead', null, [el('tr', null, [['time', 'time'], ['level', 'level'], ['rule', 'rule'], ['host', 'host'], ['event', null], ['techniques', null]].map(function (h) {
      if (!h[1]) return el('th', { text: h[0], scope: 'col' });
      var th = el('th', { text: h[0], scope: 'col', class: 'sortable', tabindex: '0', 'data-sort': h[1], 'aria-sort': 'none' });
      var sort = function () { set({ sort: h[1], desc: st.sort === h[1] ? !st.desc : h[1] === 'level' ? false : false }); };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); sort(); } });
      return th;
    }))]);
    function params() {
      var qs = new URLSearchParams();
      ['q', 'level', 'host', 'label', 'from', 'to'].forEach(function (k) { if (st[k]) qs.set(k, st[k]); });
      qs.set('sort', st.sort); if (st.desc) qs.set('desc', '1');
      return qs;
    }
    function showControls() {
      q.value = st.q; lvl.value = st.level; host.value = st.host; from.value = st.from; to.value = st.to;
      if (st.label && !Array.prototype.some.call(label.options, function (o) { return o.value === st.label; })) label.appendChild(el('option', { value: st.label, text: st.label }));
      label.value = st.label;
      Array.prototype.forEach.call(head.querySelectorAll('th.sortable'), function (th) {
        var on = th.getAttribute('data-sort') === st.sort;
        th.setAttribute('aria-sort', on ? (st.desc ? 'descending' : 'ascending') : 'none');
        th.className = 'sortable' + (on ? (st.desc ? ' sorted-desc' : ' sorted-asc') : '');
      });
    }
    function load() {
      var qs = params(); qs.set('offset', String(st.offset)); qs.set('limit', String(size));
      // Only the answer to the latest question is shown (answers can come back out of order).
      var asked = ++loads + ' ' + qs;
      box.setAttribute('data-loading', asked);
      api('GET', '/api/cases/' + c.id + '/detections?' + qs).then(function (r) {
        if (box.getAttribute('data-loading') !== asked) return;
        body.textContent = '';
        r.rows.forEach(function (d) { detectionRow(d).forEach(function (x) { body.appendChild(x); }); });
        count.textContent = r.total ? (st.offset + 1) + '–' + (st.offset + r.rows.length) + ' of ' + r.total + ' detections' : 'no detections';
        prev.disabled = st.offset === 0; next.disabled = st.offset + size >= r.total;
        box.setAttribute('data-loaded', asked);
      }).catch(function (e) { count.textContent = e.message; });
    }
    /* A change of view: the controls show it, the first page of it loads (typing waits a moment). */
    function set(patch, typing) {
      // A change event for a value already applied (an input losing focus) asks for nothing new.
      if (Object.keys(patch).every(function (k) { return st[k] === patch[k]; })) return;
      Object.keys(patch).forEach(function (k) { st[k] = patch[k]; });
      if (!('offset' in patch)) st.offset = 0;
      if (!typing) showControls();
      clearTimeout(timer);
      if (typing) timer = setTimeout(load, 250); else load();
    }
    /* One click from a value to every detection that shares it. */
    function pivot(label, patch) {
      var b = el('button', { class: 'pivot', text: label });
      b.addEventListener('click', function (ev) { ev.stopPropagation(); set(Object.assign({ q: '', level: '', host: '', label: '', from: '', to: '' }, patch)); });
      return b;
    }
    function quoted(v) { return '"' + String(v).replace(/"/g, ' ') + '"'; }
    function detectionRow(d) {
      var marks = el('span', { class: 'labels' });
      var ruleCell = el('td', null, [document.createTextNode(d.rule.title), marks]);
      var row = el('tr', { class: 'row', tabindex: '0', 'aria-expanded': 'false' }, [el('td', { text: d.timestamp }), el('td', null, [R.level(d.rule.level || 'unknown')]), ruleCell, el('td', { text: d.computer }), el('td', { text: d.channel + ' ' + d.event_id }), el('td', { text: (d.rule.techniques || []).join(' ') })]);
      var showMarks = function () {
        marks.textContent = '';
        (d.labels || []).forEach(function (l) { marks.appendChild(pivot(l, { label: l })); });
        if (d.note) marks.appendChild(el('span', { class: 'has-note', title: d.note, text: ' ✎' }));
      };
      showMarks();
      // The analyst's note and labels, kept with the detection (they stay when the case is hunted again).
      var noteBox = el('textarea', { rows: '2', cols: '60', 'aria-label': 'note on this detection', class: 'note', placeholder: 'note' });
      noteBox.value = d.note || '';
      var labelBox = el('input', { type: 'text', size: '40', 'aria-label': 'labels, separated by commas', class: 'labels-input', placeholder: 'labels, e.g. confirmed, lateral movement' });
      labelBox.value = (d.labels || []).join(', ');
      var saved = el('span', { class: 'muted', 'aria-live': 'polite' });
      var save = el('button', { type: 'button', text: 'Save note', class: 'save-note' });
      save.addEventListener('click', function (ev) {
        ev.stopPropagation();
        var labels = labelBox.value.split(',').map(function (x) { return x.trim(); }).filter(Boolean);
        api('PUT', '/api/cases/' + c.id + '/notes', { key: d.key, note: noteBox.value, labels: labels }).then(function (r) {
          d.note = r.note; d.labels = r.labels; showMarks(); saved.textContent = 'saved';
        }).catch(function (e) { saved.textContent = e.message; });
      });
      [noteBox, labelBox].forEach(function (x) { x.addEventListener('click', function (ev) { ev.stopPropagation(); }); x.addEventListener('keydown', function (ev) { ev.stopPropagation(); }); });
      var pivots = [pivot('this rule', { q: 'rule:' + quoted(d.rule.title) })];
      if (d.computer) pivots.push(pivot('this host', { host: d.computer }));
      var t = Date.parse(d.timestamp);
      if (!isNaN(t)) pivots.push(pivot('same host, 5 minutes either side', { host: d.computer || '', from: new Date(t - 300000).toISOString(), to: new Date(t + 300000).toISOString() }));
      var seen = {};
      var walk = function (v, key, depth) {
        if (v === null || v === undefined || depth > 8 || pivots.length > 80) return;
        if (typeof v === 'object') { Object.keys(v).forEach(function (k) { walk(v[k], k === '#text' || k === '#attributes' ? key : k, depth + 1); }); return; }
        var text = String(v);
        if (!key || !text || text.length > 200 || seen[key + '\n' + text]) return;
        seen[key + '\n' + text] = true;
        pivots.push(pivot(key + ' = ' + (text.length > 60 ? text.slice(0, 57) + '…' : text), { q: key + ':' + quoted(text) }));
      };
      // What the rule matched first, then the event's own data, then its system fields.
      var ev = (d.event && d.event.Event) || {};
      [d.matched, ev.EventData, ev.UserData, d.event].forEach(function (part) { walk(part, '', 0); });
      var detail = el('tr', { class: 'detail', hidden: '' }, [el('td', { colspan: '6' }, [el('div', { class: 'note-form' }, [noteBox, labelBox, save, saved]), el('div', { class: 'pivots', 'aria-label': 'show detections sharing a value' }, pivots), el('pre', { text: JSON.stringify({ rule_id: d.rule.id, file: d.file, record_id: d.record_id, matched: d.matched, event: d.event }, null, 2) })])]);
      var toggle = function () { detail.hidden = !detail.hidden; row.setAttribute('aria-expanded', String(!detail.hidden)); };
      row.addEventListener('click', toggle);
      row.addEventListener('keydown', function (ev) { if (ev.target === row && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); toggle(); } });
      return [row, detail];
    }
    q.addEventListener('input', function () { set({ q: q.value.trim() }, true); });
    from.addEventListener('change', function () { set({ from: from.value.trim() }); });
    to.addEventListener('change', function () { set({ to: to.value.trim() }); });
    lvl.addEventListener('change', function () { set({ level: lvl.value }); });
    host.addEventListener('change', function () { set({ host: host.value }); });
    label.addEventListener('change', function () { set({ label: label.value }); });
    prev.addEventListener('click', function () { set({ offset: Math.max(0, st.offset - size) }); });
    next.addEventListener('click', function () { set({ offset: st.offset + size }); });
    exportCsv.addEventListener('click', function () { download('/api/cases/' + c.id + '/detections.csv?' + params(), 'case-' + c.id + '-detections.csv'); });
    box.appendChild(el('div', { class: 'filters' }, [q, lvl, host, label, from, to, exportCsv, count]));
    box.appendChild(el('table', { class: 'detections' }, [head, body]));
    box.appendChild(el('div', { class: 'pager' }, [prev, next]));
    showControls();
    load();
    view = { show: function (patch) { selectTab('detections'); set(Object.assign({ q: '', level: '', host: '', label: '', from: '', to: '' }, patch)); } };
  }

  /* The overview's tallies open the detections they count: the first ten rows, and a button for the rest (every rule, every host). */
  function topTable(id, title, rows, patchOf) {
    var body = el('tbody');
    var more = el('button', { type: 'button', class: 'more', id: id + '-all', text: 'Show all ' + rows.length });
    function fill(n) {
      body.textContent = '';
      rows.slice(0, n).forEach(function (r) {
        var link = el('a', { href: '#', text: r.name });
        link.addEventListener('click', function (ev) { ev.preventDefault(); if (view) view.show(patchOf(r)); });
        body.appendChild(el('tr', null, [el('td', null, [link]), el('td', { class: 'n', text: String(r.count) })]));
      });
      more.hidden = n >= rows.length;
    }
    more.addEventListener('click', function () { fill(rows.length); });
    fill(10);
    return el('div', { class: 'top' }, [el('h3', { text: title }), el('table', { id: id }, [body]), more]);
  }

  if (!token) $('create-error').textContent = 'No token: open the address spoor serve printed (it ends in #token=…).';
  listCases();
})();
