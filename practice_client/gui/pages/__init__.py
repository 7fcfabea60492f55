"""The main window's pages: Anfragen, Versand, Patienten, Protokoll, Einstellungen."""
