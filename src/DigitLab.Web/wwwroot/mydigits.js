// mydigits.js: the user's saved drawings per digit (from the SQLite store), delete, counts, export and import as an
// image-folder zip, and how the active model does on them.
'use strict';

(() => {
  const { api, base64FromBytes, percent, escape, say } = DigitLab;
  const $ = id => document.getElementById(id);
  const status = $('status');

  async function load() {
    let list;
    try {
      list = await api('api/mydigits');
    } catch (e) {
      say(status, e.message, 'error');
      $('summary').textContent = '';
      return;
    }
    say(status, list.total === 0 ? 'No drawings yet: draw a digit on the Recognise page, pick the right digit and press "Save to My digits", or import an image folder.' : '');
    $('summary').innerHTML = `<b id="total">${list.total}</b> drawing(s), kept in <code>${escape(list.database)}</code>.`;
    $('counts').innerHTML = list.counts.map((n, d) => `<span class="count${n ? '' : ' none'}" data-digit="${d}"><b>${d}</b> ${n}</span>`).join('');
    $('export').classList.toggle('disabled', list.total === 0);
    const byDigit = Array.from({ length: 10 }, () => []);
    for (const item of list.items) byDigit[item.label].push(item);
    $('groups').innerHTML = byDigit.map((items, d) => items.length === 0 ? '' :
      `<section class="panel" aria-label="Digit ${d}" data-digit="${d}"><h2>${d} <span class="muted small">· ${items.length} drawing(s)</span></h2><div class="thumbs">${
        items.map(item => {
          const said = item.predicted === null ? (item.model ? escape(item.model.replace(/^import: /, 'imported: ')) : '') :
            `model: <span class="${item.predicted === item.label ? 'ok' : 'wrong'}">${item.predicted}</span> ${percent(item.confidence, 0)}`;
          return `<div class="thumb mine" data-id="${item.id}"><img src="api/mydigits/${item.id}/input.png" alt="drawing ${item.id}, a ${d}" width="28" height="28">` +
            `<div class="small">${said}</div><button class="delete" data-id="${item.id}" title="Delete this drawing" aria-label="Delete drawing ${item.id}">×</button></div>`;
        }).join('')}</div></section>`).join('');
    evaluate(list.total);
  }

  async function evaluate(total) {
    const box = $('evaluation');
    if (total === 0) { box.innerHTML = '<p class="muted">Save some drawings first.</p>'; return; }
    try {
      const r = await api('api/mydigits/evaluation');
      box.innerHTML = `<p>The active model <b>${escape(r.model)}</b> reads <b id="accuracy">${percent(r.accuracy, 1)}</b> of your ${r.count} drawing(s) right.</p>` +
        `<div class="scroll"><table id="per-digit"><thead><tr><th>Digit</th>${r.perDigit.map(s => `<th class="num">${s.digit}</th>`).join('')}</tr></thead><tbody>` +
        `<tr><td>Drawings</td>${r.perDigit.map(s => `<td class="num">${s.count}</td>`).join('')}</tr>` +
        `<tr><td>Read right</td>${r.perDigit.map(s => `<td class="num">${s.count ? s.correct : '–'}</td>`).join('')}</tr>` +
        `<tr><td>Accuracy</td>${r.perDigit.map(s => `<td class="num">${s.accuracy == null ? '–' : percent(s.accuracy, 0)}</td>`).join('')}</tr></tbody></table></div>`;
    } catch (e) {
      box.innerHTML = `<p class="message ${e.status === 409 ? 'warn' : 'error'}">${escape(e.message)}</p>`;
    }
  }

  $('groups').addEventListener('click', async e => {
    const button = e.target.closest('button.delete');
    if (!button) return;
    button.disabled = true;
    try {
      await api(`api/mydigits/${button.dataset.id}`, { method: 'DELETE' });
      await load();
    } catch (err) {
      button.disabled = false;
      say(status, err.message, 'error');
    }
  });

  $('import').addEventListener('change', async e => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    const box = $('import-result');
    box.innerHTML = `<p class="muted">Importing ${escape(file.name)}…</p>`;
    try {
      const zip = base64FromBytes(new Uint8Array(await file.arrayBuffer()));
      const r = await api('api/mydigits/import', { json: { zip, name: file.name } });
      box.innerHTML = `<p class="message">Imported <b>${r.added}</b> image(s) from ${escape(file.name)}${r.skipped.length ? `; skipped ${r.skipped.length}:` : '.'}</p>` +
        (r.skipped.length ? `<ul class="small">${r.skipped.slice(0, 50).map(s => `<li><code>${escape(s.path)}</code>: ${escape(s.reason)}</li>`).join('')}</ul>` : '');
      await load();
    } catch (err) {
      box.innerHTML = `<p class="message error">${escape(err.message)}</p>`;
    }
  });

  load();
})();
