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
    api('POST', '/api/cases/' + current + '/hunt', { sectors: sector ? [sector] : [] }).then(function () { return refresh(false); }).catch(function (e) { $('case-message').textContent = e.message; });
  });

  Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) {
    b.addEventListener('click', function () { selectTab(b.getAttribute('data-tab')); });
  });
  function selectTab(name) {
    Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) { b.className = b.getAttribute('data-tab') === name ? 'active' : ''; });
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
      charts.push(R.timeline(t, s.timeline), R.levelsChart(l, s.summary.byLevel));
      if (s.techniques.length) $('tab-overview').appendChild(R.matrix(s.matrix));
      if (s.exposure.length) $('tab-overview').appendChild(R.exposure(s.exposure));
      detectionsView(c, s);
    }));
    api('GET', '/api/cases/' + c.id + '/attribution').then(fresh(function (a) { R.attribution($('tab-attribution'), a.attribution, a.note); }));
    var box = $('tab-downloads');
    [['html', 'HTML report'], ['stix', 'STIX 2.1 bundle'], ['navigator', 'ATT&CK Navigator layer'], ['jsonl', 'detections (JSONL)']].forEach(function (d) {
      var link = el('a', { href: '#', id: 'download-' + d[0], text: d[1] });
      link.addEventListener('click', function (ev) { ev.preventDefault(); download(c.id, d[0]); });
      box.appendChild(el('p', null, [link]));
    });
  }

  /* A link cannot carry the Authorization header: the file is fetched with it and saved from memory. */
  function download(id, what) {
    request('GET', '/api/cases/' + id + '/download/' + what).then(function (r) {
      if (!r.ok) return r.json().then(function (j) { throw new Error(j.error || r.statusText); });
      var name = (/filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '') || [])[1] || 'case-' + id + '-' + what;
      return r.blob().then(function (b) {
        var url = URL.createObjectURL(b);
        var a = el('a', { href: url, download: name });
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      });
    }).catch(function (e) { $('case-message').textContent = 'download: ' + e.message; });
  }

  /* Detections are paged and filtered by the server (a case can hold millions). */
  function detectionsView(c, s) {
    var box = $('tab-detections');
    var q = el('input', { type: 'search', placeholder: 'search: words, "phrases", field:value (CommandLine:whoami), any value of the event', 'aria-label': 'search detections', id: 'detections-filter', size: 60 });
    var lvl = el('select', { 'aria-label': 'level', id: 'detections-level' }, [el('option', { value: '', text: 'all levels' })].concat(['critical', 'high', 'medium', 'low', 'informational'].map(function (l) { return el('option', { value: l, text: l + ' and above' }); })));
    var host = el('select', { 'aria-label': 'host' }, [el('option', { value: '', text: 'all hosts' })].concat(s.summary.hosts.map(function (h) { return el('option', { value: h.name === 'unknown host' ? '' : h.name, text: h.name + ' (' + h.count + ')' }); })));
    var count = el('span', { class: 'muted', id: 'detections-count' });
    var body = el('tbody', { id: 'detections-body' });
    var prev = el('button', { text: '← previous' }), next = el('button', { text: 'next →' });
    var offset = 0, size = 100, timer = null;
    function load() {
      var qs = new URLSearchParams({ offset: String(offset), limit: String(size) });
      if (q.value.trim()) qs.set('q', q.value.trim());
      if (lvl.value) qs.set('level', lvl.value);
      if (host.value) qs.set('host', host.value);
      api('GET', '/api/cases/' + c.id + '/detections?' + qs).then(function (r) {
        body.textContent = '';
        r.rows.forEach(function (d) {
          R.detectionRows({ time: d.timestamp, level: d.rule.level || 'unknown', rule: d.rule.title, ruleId: d.rule.id, host: d.computer, channel: d.channel, eventId: d.event_id, recordId: d.record_id, file: d.file, techniques: d.rule.techniques, matched: d.matched, event: d.event }).forEach(function (x) { body.appendChild(x); });
        });
        count.textContent = r.total ? (offset + 1) + '–' + (offset + r.rows.length) + ' of ' + r.total + ' detections' : 'no detections';
        prev.disabled = offset === 0; next.disabled = offset + size >= r.total;
      }).catch(function (e) { count.textContent = e.message; });
    }
    function reload() { offset = 0; clearTimeout(timer); timer = setTimeout(load, 200); }
    q.addEventListener('input', reload); lvl.addEventListener('change', reload); host.addEventListener('change', reload);
    prev.addEventListener('click', function () { offset = Math.max(0, offset - size); load(); });
    next.addEventListener('click', function () { offset += size; load(); });
    box.appendChild(el('div', { class: 'filters' }, [q, lvl, host, count]));
    box.appendChild(el('table', { class: 'detections' }, [R.detectionsHead(), body]));
    box.appendChild(el('div', { class: 'pager' }, [prev, next]));
    load();
  }

  if (!token) $('create-error').textContent = 'No token: open the address spoor serve printed (it ends in #token=…).';
  listCases();
})();
