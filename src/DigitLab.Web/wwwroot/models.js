// models.js: every saved model with its summary, metrics, confusion matrix and learning curves (SVG from the server).
'use strict';

(() => {
  const { api, percent, escape, say } = DigitLab;
  const status = document.getElementById('status');
  const cards = document.getElementById('cards');

  async function load() {
    try {
      const list = await api('api/models');
      const damaged = (list.damaged || []).map(d => `<p class="message error"><b>${escape(d.name)}</b> is damaged and was skipped: ${escape(d.problem)}</p>`).join('');
      if (list.models.length === 0) {
        cards.innerHTML = damaged;
        status.className = 'message warn';
        status.innerHTML = `No model is saved yet in <code>${escape(list.directory)}</code>. <a class="button primary" href="train.html?model=fast">Train the fast model</a> (well under a minute).`;
        return;
      }
      say(status, `${list.models.length} model${list.models.length > 1 ? 's' : ''} in ${list.directory}.`);
      cards.innerHTML = damaged + list.models.map(m => card(m, m.name === list.active)).join('');
      for (const m of list.models) details(m.name);
      cards.querySelectorAll('[data-activate]').forEach(b => b.addEventListener('click', () => activate(b.dataset.activate)));
      cards.querySelectorAll('[data-test]').forEach(b => b.addEventListener('click', () => test(b.dataset.test, b)));
      if (location.hash) document.getElementById(`model-${decodeURIComponent(location.hash.slice(1))}`)?.scrollIntoView();
    } catch (e) { say(status, e.message, 'error'); }
  }

  function card(m, active) {
    const id = escape(m.name);
    return `<article class="panel" id="model-${id}">
      <div class="card-head">
        <h2>${id} ${active ? '<span class="badge">active</span>' : ''} ${m.partial ? '<span class="badge partial">partial (cancelled)</span>' : ''}</h2>
        <div class="row">
          ${active ? '' : `<button data-activate="${id}">Make active</button>`}
          <button data-test="${id}">${m.testAccuracy == null ? 'Test' : 'Test again'}</button>
        </div>
      </div>
      <div class="muted small">${escape(m.architecture)} · ${m.parameters.toLocaleString('en')} parameters · ${m.epochs} epoch${m.epochs === 1 ? '' : 's'} · saved ${new Date(m.saved).toLocaleString()}</div>
      <div style="margin-top:.4rem">Test accuracy: <b>${m.testAccuracy == null ? 'not tested yet' : percent(m.testAccuracy)}</b></div>
      <div id="details-${id}"></div>
    </article>`;
  }

  async function details(name) {
    const target = document.getElementById(`details-${name}`);
    try {
      const d = await api(`api/models/${encodeURIComponent(name)}`);
      const test = d.log.test;
      const n = encodeURIComponent(name);
      let html = '<div class="charts">';
      if (d.log.epochs.length) html += `<img src="api/models/${n}/charts/loss.svg" alt="Loss per epoch of ${escape(name)}"><img src="api/models/${n}/charts/accuracy.svg" alt="Accuracy per epoch of ${escape(name)}">`;
      if (test) html += `<img src="api/models/${n}/charts/confusion.svg" alt="Confusion matrix of ${escape(name)} on the test set">`;
      html += '</div>';
      if (test) html += `<details><summary>Per-class precision, recall and F1</summary><div class="scroll"><table>
        <thead><tr><th>Digit</th><th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th><th class="num">Support</th></tr></thead><tbody>${
        test.perClass.map(c => `<tr><td>${c.class}</td><td class="num">${percent(c.precision)}</td><td class="num">${percent(c.recall)}</td><td class="num">${percent(c.f1)}</td><td class="num">${c.support}</td></tr>`).join('')
        }<tr><th>macro</th><th class="num">${percent(test.macro.precision)}</th><th class="num">${percent(test.macro.recall)}</th><th class="num">${percent(test.macro.f1)}</th><th class="num">${test.count}</th></tr></tbody></table></div></details>`;
      html += `<details><summary>Layers (${d.summary.length})</summary><div class="scroll"><table>
        <thead><tr><th>Layer</th><th>Output shape</th><th class="num">Parameters</th></tr></thead><tbody>${
        d.summary.map(r => `<tr><td><code>${'&nbsp;'.repeat(2 * r.depth)}${escape(`${r.name} ${r.type}`.trim())}</code></td><td><code>(${['N', ...r.outputShape.slice(1)].join(', ')})</code></td><td class="num">${r.parameters.toLocaleString('en')}</td></tr>`).join('')
        }</tbody></table></div></details>`;
      const config = Object.entries(d.log.recipe || {}).filter(([, v]) => v !== null);
      if (config.length) html += `<details><summary>Training settings</summary><p class="small">${config.map(([k, v]) => `${escape(k)} = <code>${escape(v)}</code>`).join(' · ')}</p></details>`;
      target.innerHTML = html;
    } catch (e) { target.innerHTML = `<p class="message error">${escape(e.message)}</p>`; }
  }

  async function activate(name) {
    try { await api(`api/models/${encodeURIComponent(name)}/activate`, { method: 'POST' }); load(); }
    catch (e) { say(status, e.message, 'error'); }
  }

  async function test(name, button) {
    button.disabled = true;
    button.textContent = 'Testing…';
    try { await api(`api/models/${encodeURIComponent(name)}/test`, { method: 'POST' }); load(); }
    catch (e) { say(status, e.message, 'error'); button.disabled = false; button.textContent = 'Test'; }
  }

  load();
})();
