"""practice_client.testbed"""
