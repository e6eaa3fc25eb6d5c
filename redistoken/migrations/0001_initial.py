from django.db import migrations, models


class Migration(migrations.Migration):
    """Creates no table: the model only carries the ``revoke_sessions`` permission."""

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="SessionAdministration",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))],
            options={
                "verbose_name": "token session administration",
                "managed": False,
                "default_permissions": (),
                "permissions": [("revoke_sessions", "Can view and revoke users' token sessions")],
            },
        ),
    ]
