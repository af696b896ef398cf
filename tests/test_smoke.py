def test_moto_server_answers(boto_session):
    sm = boto_session.client("secretsmanager")
    sm.create_secret(Name="probe", SecretString="{}")
    assert sm.get_secret_value(SecretId="probe")["SecretString"] == "{}"
