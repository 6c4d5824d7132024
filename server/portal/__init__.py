"""The citizen portal: complaints, appointments, certificates and visitor
pre-registration, as ordinary records in the station databases."""
