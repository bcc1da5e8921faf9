() => {
  // The article a card holds, scrolled to the sentence [n] cites (its first mark if none is named).
  const reveal = (d) => {
    const box = d.querySelector('.article-text');
    const m = box && ((d.dataset.target && box.querySelector('#' + d.dataset.target)) || box.querySelector('mark'));
    if (m) box.scrollTop = Math.max(0, m.offsetTop - box.clientHeight / 3);
  };
  const show = (n) => {
    // One card may hold several cited sentences: it lists their numbers in data-cites.
    const card = document.querySelector('.src-card[data-cites~="' + n + '"]');
    if (!card) return;
    card.scrollIntoView({behavior: 'smooth', block: 'start'});
    const art = card.querySelector('details.article');
    if (art) {
      art.dataset.target = 'art-' + n;
      if (art.open) reveal(art); else art.open = true;
    }
    card.classList.add('flash');
    setTimeout(() => card.classList.remove('flash'), 1500);
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href^="#src-"]');
    if (!a) return;
    ev.preventDefault();
    show(a.getAttribute('href').slice(5));
  }, true);
  document.addEventListener('toggle', (ev) => {
    const d = ev.target;
    if (!d.classList || !d.classList.contains('article') || !d.open) return;
    reveal(d);
  }, true);
  // The status line's clock: the server says the seconds elapsed at each step, the page counts on.
  setInterval(() => {
    for (const el of document.querySelectorAll('#status .elapsed')) {
      if (el.dataset.t0 === undefined) el.dataset.t0 = performance.now() - parseFloat(el.dataset.since) * 1000;
      el.textContent = ((performance.now() - parseFloat(el.dataset.t0)) / 1000).toFixed(1) + ' s';
    }
  }, 200);
}
