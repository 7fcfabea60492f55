"""practice_client.delivery"""
