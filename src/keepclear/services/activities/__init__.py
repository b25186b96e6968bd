"""The activity capability: notification, amendment, acknowledgement deadlines and views."""
