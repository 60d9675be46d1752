// train.js: start, watch (server-sent events; reconnects by itself) and cancel the server's training job; start a
// fine-tuning job on MNIST + my digits and show its before/after figures side by side.
'use strict';

(() => {
  const { api, percent, escape, duration, say } = DigitLab;
  const $ = id => document.getElementById(id);
  const status = $('status');
  let job = null;            // the last status snapshot
  let losses = [];           // live curve points {epoch, loss}
  let records = [];          // finished epochs

  async function init() {
    try {
      const options = await api('api/training/options');
      $('arch').innerHTML = options.architectures.map(a => `<option${a === options.defaultArchitecture ? ' selected' : ''}>${escape(a)}</option>`).join('');
      const wanted = new URLSearchParams(location.search).get('model');
      if (wanted && options.architectures.includes(wanted)) $('arch').value = wanted;
      $('epochs').value = options.epochs; $('epochs').max = options.maxEpochs;
      $('batch').value = options.batchSize; $('batch').max = options.maxBatchSize;
      $('lr').value = options.learningRates[$('arch').value] ?? options.learningRate;
      $('augment').innerHTML = options.augmentations.map(a => `<option${a === options.augmentation ? ' selected' : ''}>${escape(a)}</option>`).join('');
      $('arch').addEventListener('change', () => { $('lr').value = options.learningRates[$('arch').value] ?? options.learningRate; });
      $('token-row').classList.toggle('hidden', !options.tokenRequired);
      $('token').value = localStorage.getItem('digitlab-token') || '';
    } catch (e) {
      say(status, e.message, 'error');
    }
    await initFineTune();
    connect();
  }

  async function initFineTune() {
    try {
      const o = await api('api/training/finetune/options');
      $('ft-base').innerHTML = o.models.map(m => `<option${m === o.active ? ' selected' : ''}>${escape(m)}</option>`).join('');
      $('ft-epochs').value = o.epochs; $('ft-batch').value = o.batchSize; $('ft-replay').value = o.replayFraction;
      const rate = () => { const r = o.learningRates[$('ft-base').value]; if (r != null) $('ft-lr').value = Number(r.toPrecision(3)); };
      rate();
      $('ft-base').addEventListener('change', rate);
      $('ft-drawings').textContent = o.drawings < o.minDrawings
        ? `My digits holds ${o.drawings} drawing(s); save at least ${o.minDrawings} on the Recognise page first.`
        : `My digits holds ${o.drawings} drawing(s).`;
      $('ft-start').dataset.blocked = o.models.length === 0 || o.drawings < o.minDrawings ? 'true' : '';
    } catch (e) {
      $('ft-drawings').textContent = e.message;
      $('ft-start').dataset.blocked = 'true';
    }
  }

  /** The before/after figures of a finished fine-tuning job, side by side. */
  function renderFineTune(s) {
    const f = s.fineTune;
    if (!f) { $('finetune-result').innerHTML = ''; return; }
    const row = (what, before, after, digits) =>
      `<tr><td>${what}</td><td class="num">${percent(before, digits)}</td><td class="num">${percent(after, digits)}</td><td class="num ${after >= before ? 'ok' : 'wrong'}">${after >= before ? '+' : ''}${((after - before) * 100).toFixed(digits)} pt</td></tr>`;
    $('finetune-result').innerHTML = `<h2>Before and after fine-tuning</h2><div class="scroll"><table id="finetune-table"><thead><tr><th></th>` +
      `<th class="num">Before (${escape(f.baseModel)})</th><th class="num">After (${escape(s.request ? s.request.name : '')})</th><th class="num">Change</th></tr></thead><tbody>` +
      row(`Your held-out drawings (${f.ownHeldOut})`, f.ownBefore, f.ownAfter, 1) +
      row(`MNIST test (${f.mnistTest.toLocaleString('en')})`, f.mnistBefore, f.mnistAfter, 2) +
      `</tbody></table></div><p class="small muted">Trained on ${f.ownTrain} of your drawings and ${f.replay} MNIST images.</p>`;
  }

  function connect() {
    const source = new EventSource('api/training/events');
    source.addEventListener('status', e => onStatus(JSON.parse(e.data)));
    source.addEventListener('progress', e => onProgress(JSON.parse(e.data)));
    source.addEventListener('epoch', e => { records.push(JSON.parse(e.data)); renderEpochs(); });
    source.onerror = () => say(status, 'Lost the connection to the server; reconnecting…', 'warn');
  }

  function onStatus(s) {
    job = s;
    losses = s.losses.slice();
    records = s.epochRecords.slice();
    const running = s.state === 'running' || s.state === 'cancelling';
    if (running && s.request) {
      // Show what the running job was started with (also after a reload, or when started elsewhere).
      const r = s.request;
      if (r.fineTune) {
        $('ft-base').value = r.fineTune.baseModel; $('ft-epochs').value = r.epochs; $('ft-batch').value = r.batchSize;
        $('ft-lr').value = r.learningRate; $('ft-replay').value = r.fineTune.replayFraction; $('ft-name').value = r.name;
      } else {
        $('arch').value = r.architecture; $('epochs').value = r.epochs; $('batch').value = r.batchSize;
        $('lr').value = r.learningRate; $('augment').value = r.augmentation; $('name').value = r.name;
      }
    }
    ['arch', 'epochs', 'batch', 'lr', 'augment', 'name', 'ft-base', 'ft-epochs', 'ft-batch', 'ft-lr', 'ft-replay', 'ft-name'].forEach(id => $(id).disabled = running);
    $('start').disabled = running;
    $('ft-start').disabled = running || $('ft-start').dataset.blocked === 'true';
    renderFineTune(s);
    $('cancel').disabled = s.state !== 'running';
    const finished = s.state === 'completed' || s.state === 'cancelled';
    $('test').disabled = !finished;
    $('activate').disabled = !finished;
    const kind = s.state === 'failed' ? 'error' : s.state === 'cancelled' ? 'warn' : '';
    say(status, s.message || (s.state === 'idle' ? 'No training job has run since the server started. Choose a model and press Start.' : s.state), kind);
    setBar(s.progress, s);
    renderCurve();
    renderEpochs();
  }

  function onProgress(p) {
    if (p.point) losses.push(p.point);
    setBar(p.progress, p);
    renderCurve();
  }

  function setBar(fraction, p) {
    $('fill').style.width = `${(fraction * 100).toFixed(1)}%`;
    $('bar').setAttribute('aria-valuenow', (fraction * 100).toFixed(0));
    if (!job || job.state === 'idle') { $('progress-text').innerHTML = '&nbsp;'; return; }
    const eta = job.state === 'running' && p.etaSeconds != null ? ` · ETA ${duration(p.etaSeconds)}` : '';
    const loss = p.loss != null ? ` · loss ${p.loss.toFixed(4)}` : '';
    $('progress-text').textContent = `${(fraction * 100).toFixed(1)}% · epoch ${p.epoch}/${p.epochs} · batch ${p.batch}/${p.batches}${loss} · ${duration(p.elapsedSeconds)} elapsed${eta}`;
  }

  /** The live learning curve: loss per block of batches (line) and validation loss per epoch (dots). */
  function renderCurve() {
    const svg = $('curve');
    const W = 640, H = 260, L = 52, R = 16, T = 16, B = 36;
    const epochs = Math.max(1, job ? job.epochs : 1);
    const ys = losses.map(p => p.loss).concat(records.filter(r => r.validationLoss != null).map(r => r.validationLoss));
    const yMax = ys.length ? Math.max(...ys) * 1.08 : 1;
    const x = e => L + (e / epochs) * (W - L - R);
    const y = v => H - B - (v / yMax) * (H - T - B);
    let out = '';
    for (let i = 0; i <= 4; i++) {
      const v = yMax * i / 4;
      out += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end" font-size="13" fill="#5f6b7a">${v.toPrecision(2)}</text>`;
    }
    for (let e = 0; e <= epochs; e += Math.max(1, Math.ceil(epochs / 10)))
      out += `<text x="${x(e)}" y="${H - B + 16}" text-anchor="middle" font-size="13" fill="#5f6b7a">${e}</text>`;
    out += `<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle" font-size="12" fill="#5f6b7a">epoch</text>`;
    out += `<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" font-size="12" fill="#5f6b7a" transform="rotate(-90 14 ${(T + H - B) / 2})">loss</text>`;
    if (losses.length)
      out += `<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${losses.map(p => `${x(p.epoch).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ')}"/>`;
    for (const r of records.filter(r => r.validationLoss != null))
      out += `<circle cx="${x(r.epoch)}" cy="${y(r.validationLoss)}" r="4" fill="#f97316"><title>validation loss ${r.validationLoss.toFixed(4)}</title></circle>`;
    out += `<g font-size="13"><rect x="${W - R - 200}" y="${T}" width="10" height="10" fill="#2563eb"/><text x="${W - R - 185}" y="${T + 9}">training loss</text>` +
      `<circle cx="${W - R - 95}" cy="${T + 5}" r="4" fill="#f97316"/><text x="${W - R - 85}" y="${T + 9}">validation loss</text></g>`;
    if (!losses.length) out += `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#9aa6b5">The learning curve appears here while a model trains.</text>`;
    svg.innerHTML = out;
  }

  function renderEpochs() {
    $('epochs-table').querySelector('tbody').innerHTML = records.map(r =>
      `<tr><td class="num">${r.epoch}</td><td class="num">${r.trainLoss.toFixed(4)}</td><td class="num">${percent(r.trainAccuracy)}</td>` +
      `<td class="num">${r.validationLoss != null ? r.validationLoss.toFixed(4) : '–'}</td><td class="num">${percent(r.validationAccuracy)}</td><td class="num">${r.seconds.toFixed(1)}</td></tr>`).join('');
  }

  function saveToken() { if ($('token').value) localStorage.setItem('digitlab-token', $('token').value); }

  $('start').addEventListener('click', async () => {
    saveToken();
    try {
      await api('api/training', { json: {
        model: $('arch').value, epochs: Number($('epochs').value), batchSize: Number($('batch').value),
        learningRate: Number($('lr').value), augmentation: $('augment').value, name: $('name').value.trim() || null } });
      $('test-result').innerHTML = '';
    } catch (e) { say(status, e.message, 'error'); }
  });
  $('ft-start').addEventListener('click', async () => {
    saveToken();
    try {
      await api('api/training/finetune', { json: {
        baseModel: $('ft-base').value || null, epochs: Number($('ft-epochs').value), batchSize: Number($('ft-batch').value),
        learningRate: Number($('ft-lr').value), replayFraction: Number($('ft-replay').value), name: $('ft-name').value.trim() || null } });
      $('test-result').innerHTML = '';
    } catch (e) { say(status, e.message, 'error'); }
  });
  $('cancel').addEventListener('click', async () => {
    saveToken();
    try { await api('api/training/cancel', { method: 'POST' }); } catch (e) { say(status, e.message, 'error'); }
  });
  $('test').addEventListener('click', async () => {
    if (!job || !job.request) return;
    saveToken();
    $('test').disabled = true;
    $('test-result').innerHTML = '<p class="muted">Evaluating on the 10,000 test images…</p>';
    try {
      const r = await api(`api/models/${encodeURIComponent(job.request.name)}/test`, { method: 'POST' });
      $('test-result').innerHTML = `<p class="message">Test accuracy of <b>${escape(job.request.name)}</b>: <b>${percent(r.accuracy)}</b> on ${r.count.toLocaleString('en')} images (loss ${r.loss.toFixed(4)}). <a href="models.html#${encodeURIComponent(job.request.name)}">Confusion matrix and metrics</a></p>`;
    } catch (e) { $('test-result').innerHTML = `<p class="message error">${escape(e.message)}</p>`; }
    $('test').disabled = false;
  });
  $('activate').addEventListener('click', async () => {
    if (!job || !job.request) return;
    saveToken();
    try {
      await api(`api/models/${encodeURIComponent(job.request.name)}/activate`, { method: 'POST' });
      say(status, `"${job.request.name}" is now the active model: the Recognise page uses it by default.`);
    } catch (e) { say(status, e.message, 'error'); }
  });

  init();
})();
