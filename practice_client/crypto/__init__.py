"""practice_client.crypto"""
