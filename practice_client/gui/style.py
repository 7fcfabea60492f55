"""The app's look: calm colours, clear banners. State is never shown by colour alone
(icons and words carry it); the colours only help the eye."""

STYLE_SHEET = """
QListWidget#navigation { background: #1d5f8a; color: white; border: none; font-size: 11pt; padding-top: 8px; }
QListWidget#navigation::item { padding: 10px 12px; }
QListWidget#navigation::item:selected { background: #2f7fb3; color: white; border-left: 4px solid #f4a261; }
QLabel#pageTitle { font-size: 16pt; font-weight: 600; }
QLabel#pageSummary { color: #37474f; padding: 2px 0 6px 0; }
QLabel#detailTitle { font-size: 14pt; font-weight: 600; }
QLabel#hint, QLabel#lockedNote { color: #546e7a; }
QFrame#verdictBanner, QFrame#chainBanner, QFrame#messageBar {
    border-radius: 4px; border: 1px solid #b0bec5; background: #eceff1; }
QFrame#verdictBanner[verdict="verified"], QFrame#chainBanner[ok="true"] { background: #e8f5e9; border-color: #81c784; }
QFrame#verdictBanner[verdict="needs_review"] { background: #fff8e1; border-color: #ffca28; }
QFrame#verdictBanner[verdict="rejected"], QFrame#chainBanner[ok="false"], QFrame#messageBar {
    background: #ffebee; border-color: #e57373; }
QGroupBox { font-weight: 600; margin-top: 10px; }
QGroupBox::title { subcontrol-origin: margin; left: 6px; padding: 0 3px; }
QGroupBox QLabel { font-weight: normal; }
"""
