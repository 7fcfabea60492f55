"""What tests share, defined once; no test imports helpers from another test module.

- :mod:`tests.support.waiting`: poll with a deadline (never a fixed sleep).
- :mod:`tests.support.cli`: the command line in a fresh process.
- :mod:`tests.support.platform`: the testbed platform (HTTPS on loopback) and fast clients.
- :mod:`tests.support.patients`: the test patients.
- :mod:`tests.support.worlds`: the World of delivery and GUI tests (platform, identity
  authority, simulated patients, a set-up client home copied per test) and its helpers.
- :mod:`tests.support.gui_state`: a realistic practice state for GUI tests, and waiting
  for the window to settle.
- :mod:`tests.support.gui_desktop`: the application as the real one sets it up, real
  drag-and-drop, a real X display with a tray.
- :mod:`tests.support.delivery`: what delivery tests do to a document and a patient.
- :mod:`tests.support.trust`: client homes and keys for the trust-certificate tests.
- :mod:`tests.support.installer`: the installers' files, the macOS postinstall.

``tests/conftest.py`` keeps what every test needs (``require``, ``short_tmpdir``, the
home fixtures); each package's conftest only registers the fixtures it uses from here.
"""
