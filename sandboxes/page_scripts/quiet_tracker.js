(() => {
  if (window.__wlTracking) return;
  window.__wlTracking = true;
  window.__wlLastMutation = performance.now();
  new MutationObserver(records => {
    for (const r of records) {
      if (r.type !== 'attributes' || r.attributeName !== 'bid') { window.__wlLastMutation = performance.now(); return; }
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})();
