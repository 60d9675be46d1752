// app.js: helpers shared by every page: the navigation bar, JSON calls that turn ProblemDetails into
// readable errors, the training token, and drawing 28×28 images and probability bars.
'use strict';

const DigitLab = (() => {
  const pages = [['index.html', 'Recognise'], ['dataset.html', 'Dataset'], ['mydigits.html', 'My digits'], ['train.html', 'Train'], ['models.html', 'Models']];

  function header() {
    const here = location.pathname.split('/').pop() || 'index.html';
    const el = document.createElement('header');
    el.className = 'top';
    el.innerHTML = `<div class="bar"><a class="brand" href="index.html">DigitLab</a><nav>${
      pages.map(([href, name]) => `<a href="${href}"${href === here ? ' class="current" aria-current="page"' : ''}>${name}</a>`).join('')
    }</nav></div>`;
    document.body.prepend(el);
  }

  /** Calls the API; resolves with the parsed JSON, or rejects with an Error whose message is the ProblemDetails detail. */
  async function api(url, options = {}) {
    const init = { ...options, headers: { ...(options.headers || {}) } };
    if (options.json !== undefined) {
      init.method = init.method || 'POST';
      init.body = JSON.stringify(options.json);
      init.headers['Content-Type'] = 'application/json';
    }
    // State-changing calls without a body still say JSON: the server refuses other body types on them (cross-site forms).
    if (init.method === 'POST' && init.body === undefined) {
      init.body = '{}';
      init.headers['Content-Type'] = 'application/json';
    }
    const token = localStorage.getItem('digitlab-token');
    if (token) init.headers['X-DigitLab-Token'] = token;
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new Error('The server cannot be reached. Is `dotnet run --project src/DigitLab.Web` still running?');
    }
    const type = response.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await response.json() : await response.text();
    if (!response.ok) {
      const error = new Error(body && body.detail ? body.detail : `${response.status} ${response.statusText}`);
      error.status = response.status;
      error.title = body && body.title;
      throw error;
    }
    return body;
  }

  function bytesFromBase64(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function base64FromBytes(bytes) {
    let text = '';
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) text += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    return btoa(text);
  }

  /** Draws 784 grey bytes (white ink on black) into a 28×28 canvas. */
  function drawImage(canvas, bytes, offset = 0) {
    canvas.width = 28; canvas.height = 28;
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = bytes[offset + i];
      image.data[i * 4] = v; image.data[i * 4 + 1] = v; image.data[i * 4 + 2] = v; image.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }

  /** Fills a .bars element with ten rows: digit, bar, percentage; the most likely digit is highlighted. */
  function bars(container, probabilities) {
    const best = probabilities.indexOf(Math.max(...probabilities));
    container.innerHTML = probabilities.map((p, d) =>
      `<span class="${d === best ? 'best' : ''}">${d}</span>` +
      `<span class="track ${d === best ? 'best' : ''}"><span class="fill" style="width:${(p * 100).toFixed(1)}%"></span></span>` +
      `<span class="${d === best ? 'best' : ''}" style="text-align:right">${(p * 100).toFixed(1)}%</span>`).join('');
    container.querySelectorAll('.track').forEach((t, d) => t.setAttribute('aria-label', `${d}: ${(probabilities[d] * 100).toFixed(1)}%`));
  }

  function percent(x, digits = 2) { return x == null ? '–' : `${(x * 100).toFixed(digits)}%`; }
  function escape(text) { return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]); }
  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) return '–';
    const s = Math.round(seconds), m = Math.floor(s / 60);
    return m > 0 ? `${m}:${String(s % 60).padStart(2, '0')}` : `${s} s`;
  }

  /** Shows (or hides, for an empty text) a message in an element with class "message". */
  function say(element, text, kind = '') {
    element.className = `message ${kind}`.trim();
    element.textContent = text || '';
  }

  document.addEventListener('DOMContentLoaded', header);
  return { api, bytesFromBase64, base64FromBytes, drawImage, bars, percent, escape, duration, say };
})();
