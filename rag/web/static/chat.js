() => {
  const show = (n) => {
    const card = document.getElementById('src-' + n);
    if (!card) return;
    card.scrollIntoView({behavior: 'smooth', block: 'start'});
    const art = card.querySelector('details.article');
    if (art) art.open = true;
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
    const box = d.querySelector('.article-text'), m = box && box.querySelector('mark');
    if (m) box.scrollTop = Math.max(0, m.offsetTop - box.clientHeight / 3);
  }, true);
}
