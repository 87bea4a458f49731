/* The HTML report: draws every section from the case data embedded in the page. */
(function () {
  'use strict';
  var R = window.SpoorRender, el = R.el;
  var data = JSON.parse(document.getElementById('spoor-data').textContent);
  var main = document.querySelector('main');
  function section(id, title, children) { var s = el('section', { id: id }, [el('h2', { text: title })].concat(children || [])); main.appendChild(s); return s; }

  section('summary', 'Summary', [R.cards(data.summary)].concat(data.attribution && data.attribution.headline ? [el('p', { class: 'headline' + (data.attribution.unknownLeads ? ' unknown-leads' : ''), text: data.attribution.headline })] : []));
  var t = el('canvas', { id: 'timeline-chart' }), l = el('canvas', { id: 'levels-chart' });
  section('timeline', 'Timeline', [el('div', { class: 'charts' }, [el('div', { class: 'chart' }, [t]), el('div', { class: 'chart' }, [l])])]);
  R.timeline(t, data.timeline);
  R.levelsChart(l, data.summary.byLevel);
  section('attack', 'ATT&CK techniques observed', [data.techniques.length ? R.matrix(data.matrix) : el('p', { class: 'muted', text: 'No detection was tagged with an ATT&CK technique.' })]);
  if (data.exposure.length) section('exposure', 'Exchange exposure', [R.exposure(data.exposure)]);
  if (data.mailAccess) section('mail-access', 'Mailboxes reached', [R.mailAccess(data.mailAccess)]);
  R.attribution(section('attribution', 'Attribution: competing hypotheses'), data.attribution, data.attributionNote);
  var d = section('detections', 'Detections');
  R.detectionsTable(d, data.detections);
  if (data.notListed) d.appendChild(el('p', { class: 'muted', text: data.notListed + ' more detections are counted above but not listed in this report.' }));
  document.body.setAttribute('data-ready', 'true');
})();
