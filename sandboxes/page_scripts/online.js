try { Object.defineProperty(Navigator.prototype, 'onLine', {get: () => true, configurable: true}); } catch (e) {}
