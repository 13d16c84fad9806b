"""The browser suite: JupyterLab and exported HTML, driven in Debian's chromium with Playwright."""
