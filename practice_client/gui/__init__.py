"""practice_client.gui"""
