"""practice_client.core"""
