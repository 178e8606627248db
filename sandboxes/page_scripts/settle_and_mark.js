async ({quietMs, timeoutMs}) => {
  const t0 = performance.now();
  for (;;) {
    const idle = performance.now() - (window.__wlLastMutation || 0);
    if (idle >= quietMs || performance.now() - t0 >= timeoutMs) break;
    await new Promise(r => setTimeout(r, Math.max(2, quietMs - idle)));
  }
  let next = window.__wlNextBid || 0;
  const root = document.body || document.documentElement;
  if (root) {
    if (!root.hasAttribute('bid')) root.setAttribute('bid', String(next++));
    for (const el of root.querySelectorAll('*')) if (!el.hasAttribute('bid')) el.setAttribute('bid', String(next++));
  }
  window.__wlNextBid = next;
  const a = document.activeElement;
  return {focused: a && a !== document.body && a.getAttribute ? a.getAttribute('bid') : null,
          waited: performance.now() - t0};
}
