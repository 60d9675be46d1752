// recognise.js: the drawing pad (pointer events: mouse, pen, touch), live recognition, Random, compare all, and Teach
// (confirm or correct the answer and save the drawing to My digits).
'use strict';

(() => {
  const { api, bytesFromBase64, base64FromBytes, drawImage, bars, percent, escape, say } = DigitLab;
  const pad = document.getElementById('pad');
  const ctx = pad.getContext('2d', { willReadFrequently: true });
  const status = document.getElementById('status');
  const modelSelect = document.getElementById('model');
  const compare = document.getElementById('compare');
  const live = document.getElementById('live');
  // MNIST strokes are about 2.5 px wide on a 20 px digit; a digit drawn ~200 px tall here scales by 10. The number
  // mode's canvas is 200 px tall, not 280, so its strokes are thinner in proportion.
  const strokeWidth = () => Math.round(22 * pad.height / 280);
  const liveInterval = 250; // ms between live requests while drawing
  let drawing = false, last = null, dirty = false, inFlight = false, queued = false, lastSent = 0, timer = null;
  let shownTruth = null;
  let shownPixels = null; // the 784 values of a Random test image on the pad, so a model change can ask again
  let sentDrawing = null; // the canvas last sent for recognition ({width, height, pixels}): what Save stores
  let teachLabel = null, labelChosen = false; // the digit to save; chosen = the user picked it (a new answer keeps it)
  // Strokes drawn so far: a live request for a drawing already answered is skipped, and a saved drawing stays saved
  // (its note and disabled Save button survive a late answer) until the user draws again.
  let version = 0, answeredVersion = -1, sentVersion = -1, savedVersion = -1;

  function clear() {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
    dirty = false; shownTruth = null; shownPixels = null;
    document.getElementById('digit').textContent = '?';
    document.getElementById('confidence').innerHTML = '&nbsp;';
    document.getElementById('bars').innerHTML = '';
    document.getElementById('truth').textContent = '';
    document.getElementById('compare-table').classList.add('hidden');
    sentDrawing = null; labelChosen = false; teach(null);
    drawImage(document.getElementById('seen'), new Uint8Array(784));
    explainAsked++; explained = null; document.getElementById('looked-panel').classList.add('hidden');
    const boxCanvas = document.getElementById('pad-boxes');
    boxCanvas.getContext('2d').clearRect(0, 0, boxCanvas.width, boxCanvas.height);
    say(status, 'Draw a digit in the black square, then press Recognise (or just keep drawing).');
  }

  function point(e) {
    const rect = pad.getBoundingClientRect();
    return { x: (e.clientX - rect.left) * pad.width / rect.width, y: (e.clientY - rect.top) * pad.height / rect.height };
  }

  function stroke(from, to) {
    version++;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = strokeWidth();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  pad.addEventListener('pointerdown', e => {
    e.preventDefault();
    if (shownTruth !== null) clear(); // drawing over a Random or uploaded image starts afresh
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    last = point(e);
    stroke(last, last);
    dirty = true;
  });
  pad.addEventListener('pointermove', e => {
    if (!drawing) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ce of (events.length ? events : [e])) {
      const p = point(ce);
      stroke(last, p);
      last = p;
    }
    if (live.checked) scheduleLive();
  });
  const end = e => {
    if (!drawing) return;
    drawing = false;
    if (live.checked) recognise();
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);

  function scheduleLive() {
    const wait = liveInterval - (performance.now() - lastSent);
    if (wait <= 0) recognise();
    else if (!timer) timer = setTimeout(() => { timer = null; recognise(); }, wait);
  }

  /** The canvas as grey bytes (the red channel: strokes are white on black). */
  function greyPixels() {
    const rgba = ctx.getImageData(0, 0, pad.width, pad.height).data;
    const grey = new Uint8Array(pad.width * pad.height);
    let ink = false;
    for (let i = 0; i < grey.length; i++) { grey[i] = rgba[i * 4]; if (grey[i] > 16) ink = true; }
    return ink ? grey : null;
  }

  /** Asks the model about the drawing; <force> asks again although nothing was drawn since the last answer (another model chosen). */
  async function recognise(force = false) {
    if (inFlight) { queued = true; return; }
    if (!force && version === answeredVersion) return;
    const grey = greyPixels();
    if (!grey) {
      say(status, 'The canvas is empty: draw a digit first (a single digit, as large as the square).', 'warn');
      return;
    }
    inFlight = true; lastSent = performance.now();
    const drawing = { width: pad.width, height: pad.height, pixels: base64FromBytes(grey) };
    const asked = version;
    try {
      if (numberMode.checked) {
        const result = await api('api/read', { json: { ...drawing, model: modelSelect.value || null } });
        showNumber(result);
        answeredVersion = asked;
        return;
      }
      const result = await api('api/predict/drawing', { json: {
        ...drawing, model: modelSelect.value || null, compare: compare.checked } });
      show(result);
      sentDrawing = drawing; answeredVersion = sentVersion = asked;
      const chosen = result.results.find(r => r.model === modelSelect.value) || result.results[0];
      teach(labelChosen ? teachLabel : chosen.digit);
    } catch (e) {
      say(status, e.message, 'error');
    } finally {
      inFlight = false;
      if (queued) { queued = false; if (!drawing) recognise(); else scheduleLive(); }
    }
  }

  // What the model looked at: ten integrated-gradient maps for the image last shown, drawn over it in red (raised the
  // digit's score) and blue (lowered it); the answer's map by default, another digit's while its bar is hovered.
  const explainBox = document.getElementById('explain');
  // hovered: the digit whose bar the pointer is over, so that maps arriving later (live recognition while drawing) show it too.
  let explained = null, explainAsked = 0, hovered = null;

  async function explain(image, model) {
    const asked = ++explainAsked;
    const panel = document.getElementById('looked-panel');
    if (!explainBox.checked) { panel.classList.add('hidden'); explained = null; return; }
    try {
      const pixels = Array.from(image, v => v / 255);
      const result = await api('api/explain', { json: { pixels, model } });
      if (asked !== explainAsked) return; // a newer image was shown meanwhile
      const best = result.probabilities.indexOf(Math.max(...result.probabilities));
      explained = { image, maps: result.maps, best };
      panel.classList.remove('hidden');
      drawLooked(hovered ?? best);
    } catch (e) {
      say(status, `What the model looked at: ${e.message}`, 'error');
    }
  }

  function drawLooked(digit) {
    if (!explained) return;
    const canvas = document.getElementById('looked');
    const c = canvas.getContext('2d');
    const map = explained.maps[digit];
    const max = Math.max(1e-12, ...map.map(Math.abs));
    const out = c.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const grey = 255 - 0.6 * explained.image[i];           // the digit dark on white, faint so the colour reads
      const t = Math.abs(map[i]) / max;
      const [r, g, b] = map[i] >= 0 ? [220, 30, 30] : [30, 80, 220];
      out.data[i * 4] = grey * (1 - t) + r * t;
      out.data[i * 4 + 1] = grey * (1 - t) + g * t;
      out.data[i * 4 + 2] = grey * (1 - t) + b * t;
      out.data[i * 4 + 3] = 255;
    }
    c.putImageData(out, 0, 0);
    canvas.dataset.digit = digit;
    document.getElementById('looked-caption').textContent = `what pointed to ${digit}${digit === explained.best ? ' (its answer)' : ''}`;
  }

  const barsBox = document.getElementById('bars');
  barsBox.addEventListener('mouseover', e => {
    const row = [...barsBox.children].indexOf(e.target.closest('#bars > span'));
    if (row >= 0) { hovered = Math.floor(row / 3); drawLooked(hovered); }
  });
  barsBox.addEventListener('mouseleave', () => { hovered = null; if (explained) drawLooked(explained.best); });

  // Number mode: a wide canvas, read by POST /api/read (segmentation, each digit preprocessed as MNIST); the digits'
  // boxes are drawn on a transparent canvas over the pad, so the drawing itself (what is sent) stays untouched.
  const numberMode = document.getElementById('number-mode');
  const boxes = document.getElementById('pad-boxes');

  function drawBoxes(digits) {
    const b = boxes.getContext('2d');
    b.clearRect(0, 0, boxes.width, boxes.height);
    b.strokeStyle = '#22c55e'; b.fillStyle = '#22c55e'; b.lineWidth = 3; b.font = 'bold 22px system-ui, sans-serif';
    for (const d of digits) {
      b.strokeRect(d.x, d.y, d.width, d.height);
      b.fillText(String(d.digit), d.x + 3, Math.max(20, d.y - 4));
    }
  }

  function showNumber(result) {
    document.getElementById('digit').textContent = result.text;
    document.getElementById('confidence').textContent = `${percent(result.confidence, 1)} sure · ${result.model}`;
    document.getElementById('bars').innerHTML = result.digits.map(d =>
      `<span>${d.digit}</span><span class="track"><span class="fill" style="width:${(d.confidence * 100).toFixed(1)}%"></span></span>` +
      `<span style="text-align:right">${percent(d.confidence, 1)}</span>`).join('');
    drawBoxes(result.digits);
    say(status, `Read ${result.digits.length} digit(s), left to right; each bar is one digit's confidence.`);
  }

  numberMode.addEventListener('change', () => {
    const on = numberMode.checked;
    pad.width = boxes.width = on ? 700 : 280;
    pad.height = boxes.height = on ? 200 : 280;
    document.getElementById('pad-wrap').classList.toggle('number', on);
    ['random', 'upload', 'compare', 'explain'].forEach(id => document.getElementById(id).disabled = on);
    clear();
    if (on) say(status, 'Write a number of several digits across the wide canvas, then press Recognise (or keep drawing).');
  });

  function show(result, label = null) {
    drawImage(document.getElementById('seen'), bytesFromBase64(result.image));
    explain(bytesFromBase64(result.image), (result.results.find(r => r.model === modelSelect.value) || result.results[0]).model);
    const chosen = result.results.find(r => r.model === modelSelect.value) || result.results[0];
    document.getElementById('digit').textContent = chosen.digit;
    document.getElementById('confidence').textContent = `${percent(chosen.confidence, 1)} sure · ${chosen.model}`;
    bars(document.getElementById('bars'), chosen.probabilities);
    const truth = document.getElementById('truth');
    truth.innerHTML = label === null ? '' :
      `True label: <b>${label}</b> · ${chosen.digit === label ? '<span class="ok">right</span>' : '<span class="wrong">wrong</span>'}`;
    const table = document.getElementById('compare-table');
    if (result.results.length > 1) {
      table.innerHTML = `<table><thead><tr><th>Model</th><th class="num">Answer</th><th class="num">Confidence</th><th>Runner-up</th></tr></thead><tbody>${
        result.results.map(r => {
          const order = r.probabilities.map((p, d) => [p, d]).sort((a, b) => b[0] - a[0]);
          return `<tr><td>${escape(r.model)}</td><td class="num"><b>${r.digit}</b></td><td class="num">${percent(r.confidence, 1)}</td>` +
            `<td>${order[1][1]} (${percent(order[1][0], 1)})</td></tr>`;
        }).join('')}</tbody></table>`;
      table.classList.remove('hidden');
    } else table.classList.add('hidden');
    say(status, result.results.length > 1 ? `Every saved model's answer (${result.results.length} models).` : '');
  }

  /** Shows the Teach panel with <digit> selected (null hides it: nothing drawn to save). */
  function teach(digit) {
    const panel = document.getElementById('teach');
    panel.classList.toggle('hidden', digit === null);
    teachLabel = digit;
    document.querySelectorAll('#teach-digits button').forEach(b => {
      const on = Number(b.dataset.digit) === digit;
      b.classList.toggle('on', on);
      b.setAttribute('aria-checked', on);
    });
    const saved = sentVersion === savedVersion;
    document.getElementById('save-drawing').disabled = digit === null || saved;
    if (!saved) document.getElementById('teach-note').textContent = '';
  }

  async function saveDrawing() {
    if (!sentDrawing || teachLabel === null) return;
    const button = document.getElementById('save-drawing');
    button.disabled = true;
    const saving = sentVersion;
    try {
      const saved = await api('api/mydigits', { json: { ...sentDrawing, label: teachLabel, model: modelSelect.value || null } });
      const d = saved.drawing;
      const answer = d.predicted === null ? '' : d.predicted === d.label ? ' (the model was right)' : ` (the model said ${d.predicted})`;
      savedVersion = saving;
      document.getElementById('teach-note').textContent =
        `Saved as ${d.label}${answer}: My digits now holds ${saved.counts[d.label]} drawing(s) of ${d.label}, ${saved.counts.reduce((a, b) => a + b, 0)} in all.`;
    } catch (e) {
      button.disabled = false;
      say(status, e.message, 'error');
    }
  }

  async function random() {
    try {
      const item = await api('api/dataset/test/random');
      const bytes = bytesFromBase64(item.image);
      // Show the test image on the pad, scaled up, and recognise the original 784 values.
      const small = document.createElement('canvas');
      drawImage(small, bytes);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, pad.width, pad.height);
      dirty = false;
      const pixels = Array.from(bytes, v => v / 255);
      shownTruth = item.label; shownPixels = pixels;
      sentDrawing = null; teach(null);
      await again();
      say(status, `Test image #${item.index}. Draw on the pad to start your own digit.`);
    } catch (e) {
      say(status, e.message, 'error');
    }
  }

  async function upload(file) {
    try {
      const form = new FormData();
      form.append('image', file);
      const query = new URLSearchParams({ compare: compare.checked });
      if (modelSelect.value) query.set('model', modelSelect.value);
      const result = await api(`api/predict/image?${query}`, { method: 'POST', body: form });
      // Show the preprocessed 28×28 image on the pad, scaled up, as the model saw it.
      const small = document.createElement('canvas');
      drawImage(small, bytesFromBase64(result.image));
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, pad.width, pad.height);
      dirty = false; shownTruth = -1;
      sentDrawing = null; teach(null);
      show(result);
      say(status, `Uploaded ${file.name}, preprocessed as MNIST. Draw on the pad to start your own digit.`);
    } catch (e) {
      say(status, e.message, 'error');
    }
  }

  /** Asks again for the Random test image on the pad (after a change of model or of "compare all"). */
  async function again() {
    try {
      const result = await api('api/predict', { json: { pixels: shownPixels, model: modelSelect.value || null, compare: compare.checked } });
      show(result, shownTruth);
    } catch (e) {
      say(status, e.message, 'error');
    }
  }

  async function loadModels() {
    try {
      const list = await api('api/models');
      const none = list.models.length === 0;
      document.getElementById('no-model').classList.toggle('hidden', !none);
      modelSelect.innerHTML = list.models.map(m =>
        `<option value="${escape(m.name)}"${m.name === list.active ? ' selected' : ''}>${escape(m.name)}${
          m.testAccuracy != null ? ` (${percent(m.testAccuracy)})` : ''}${m.name === list.active ? ' · active' : ''}</option>`).join('');
      modelSelect.disabled = none;
      ['recognise', 'random', 'upload'].forEach(id => document.getElementById(id).disabled = none);
      if (none) say(status, `No model is saved yet in ${list.directory}. Train one first: the fast model takes well under a minute.`, 'warn');
    } catch (e) {
      say(status, e.message, 'error');
    }
  }

  document.getElementById('train-fast').addEventListener('click', async () => {
    try {
      await api('api/training', { json: { model: 'fast' } });
      location.href = 'train.html';
    } catch (e) {
      if (e.status === 409) location.href = 'train.html';
      else say(status, e.message, 'error');
    }
  });
  const digits = document.getElementById('teach-digits');
  digits.innerHTML = Array.from({ length: 10 }, (_, d) => `<button type="button" role="radio" data-digit="${d}" aria-label="digit ${d}">${d}</button>`).join('');
  digits.addEventListener('click', e => {
    const b = e.target.closest('button');
    if (!b) return;
    labelChosen = true;
    teach(Number(b.dataset.digit));
  });
  document.getElementById('save-drawing').addEventListener('click', saveDrawing);
  document.getElementById('clear').addEventListener('click', clear);
  document.getElementById('recognise').addEventListener('click', () => recognise(true));
  document.getElementById('random').addEventListener('click', random);
  document.getElementById('upload').addEventListener('change', e => { if (e.target.files[0]) upload(e.target.files[0]); e.target.value = ''; });
  const changed = () => { if (shownPixels) again(); else if (dirty) recognise(true); };
  modelSelect.addEventListener('change', changed);
  explainBox.addEventListener('change', changed);
  compare.addEventListener('change', changed);

  clear();
  loadModels();
})();
