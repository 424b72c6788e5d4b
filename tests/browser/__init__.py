"""Browser tests: the app served by ``make run`` and driven in headless Chromium (Playwright)."""
