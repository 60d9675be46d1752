// dataset.js: browse MNIST 100 images at a time, filter by digits, open an image with every model's prediction.
'use strict';

(() => {
  const { api, bytesFromBase64, drawImage, percent, escape, say } = DigitLab;
  const status = document.getElementById('status');
  const params = new URLSearchParams(location.search);
  const state = {
    split: params.get('split') === 'test' ? 'test' : 'train',
    page: Math.max(1, parseInt(params.get('page') || '1', 10) || 1),
    digits: new Set((params.get('digits') || '').split(',').filter(d => /^[0-9]$/.test(d)).map(Number)),
    pageCount: 1,
  };

  const toggles = document.getElementById('digits');
  for (let d = 0; d <= 9; d++) {
    const b = document.createElement('button');
    b.textContent = d;
    b.setAttribute('aria-pressed', 'false');
    b.addEventListener('click', () => {
      state.digits.has(d) ? state.digits.delete(d) : state.digits.add(d);
      state.page = 1;
      load();
    });
    toggles.append(b);
  }
  document.getElementById('split').value = state.split;

  async function load() {
    [...toggles.children].forEach((b, d) => { b.classList.toggle('on', state.digits.has(d)); b.setAttribute('aria-pressed', state.digits.has(d)); });
    const digits = [...state.digits].sort().join(',');
    const query = new URLSearchParams({ page: state.page });
    if (digits) query.set('digits', digits);
    history.replaceState(null, '', `?split=${state.split}&${query}`);
    try {
      const page = await api(`api/dataset/${state.split}?${query}`);
      state.pageCount = page.pageCount;
      render(page);
      say(status, '');
    } catch (e) {
      say(status, e.message, 'error');
    }
  }

  function render(page) {
    const images = bytesFromBase64(page.images);
    const thumbs = document.getElementById('thumbs');
    thumbs.innerHTML = '';
    page.items.forEach((item, i) => {
      const cell = document.createElement('button');
      cell.className = 'thumb';
      cell.title = `#${item.index}, label ${item.label}`;
      cell.setAttribute('aria-label', `Image ${item.index}, label ${item.label}`);
      const canvas = document.createElement('canvas');
      drawImage(canvas, images, i * 784);
      const caption = document.createElement('div');
      caption.textContent = `${item.label} · #${item.index}`;
      cell.append(canvas, caption);
      cell.addEventListener('click', () => open(item.index));
      thumbs.append(cell);
    });
    const filter = page.digits.length ? ` of digit${page.digits.length > 1 ? 's' : ''} ${page.digits.join(', ')}` : '';
    document.getElementById('where').textContent =
      `Page ${page.page} of ${page.pageCount} · ${page.total.toLocaleString('en')} ${page.split === 'train' ? 'training' : 'test'} images${filter}`;
    document.getElementById('page').value = page.page;
    document.getElementById('page').max = page.pageCount;
  }

  async function open(index) {
    try {
      const item = await api(`api/dataset/${state.split}/${index}`);
      drawImage(document.getElementById('large'), bytesFromBase64(item.image));
      document.getElementById('detail-title').textContent = `${state.split === 'train' ? 'Training' : 'Test'} image #${item.index}`;
      document.getElementById('detail-label').innerHTML = `Label: <b style="font-size:1.4rem">${item.label}</b>`;
      document.getElementById('detail-predictions').innerHTML = item.predictions.length === 0
        ? '<p class="muted">No model is saved yet, so there are no predictions. Train one on the <a href="train.html">Train</a> page.</p>'
        : `<table><thead><tr><th>Model</th><th class="num">Answer</th><th class="num">Confidence</th></tr></thead><tbody>${
          item.predictions.map(p => `<tr><td>${escape(p.model)}</td><td class="num ${p.digit === item.label ? 'ok' : 'wrong'}">${p.digit} ${p.digit === item.label ? '✓' : '✗'}</td><td class="num">${percent(p.confidence, 1)}</td></tr>`).join('')
        }</tbody></table>`;
      document.getElementById('detail').showModal();
    } catch (e) {
      say(status, e.message, 'error');
    }
  }

  document.getElementById('prev').addEventListener('click', () => {
    if (state.page <= 1) { say(status, 'This is the first page: there is nothing before it.', 'warn'); return; }
    state.page--; load();
  });
  document.getElementById('next').addEventListener('click', () => {
    if (state.page >= state.pageCount) { say(status, `This is the last page (${state.pageCount}): there is nothing after it.`, 'warn'); return; }
    state.page++; load();
  });
  document.getElementById('page').addEventListener('change', e => {
    const n = parseInt(e.target.value, 10);
    if (n === state.page) return;
    if (!(n >= 1 && n <= state.pageCount)) { say(status, `Choose a page from 1 to ${state.pageCount}.`, 'warn'); e.target.value = state.page; return; }
    state.page = n; load();
  });
  document.getElementById('split').addEventListener('change', e => { state.split = e.target.value; state.page = 1; load(); });
  load();
})();
