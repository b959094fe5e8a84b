# Loaded by the Python that runs moto_server for kapstan's tests (the
# harness puts this folder on PYTHONPATH). It fixes one moto bug and changes
# nothing else.
#
# moto 5 keeps the UserData of CreateLaunchTemplate decoded from base64 but
# stores that of CreateLaunchTemplateVersion as the raw string. An Auto
# Scaling group that launches from such a version then fails an assertion
# in moto and answers HTTP 500, so no group could ever replace an instance
# after its launch template changed. AWS has no such problem: the version's
# user data is parsed the same way as the first version's.
try:
    from moto.ec2.models import launch_templates as _lt
    from moto.ec2.utils import parse_user_data as _parse_user_data
    from moto.core.types import Base64EncodedString as _B64

    _create_version = _lt.LaunchTemplate.create_version

    def _create_version_parsing_user_data(self, data, description):
        user_data = data.get("UserData") if isinstance(data, dict) else None
        if user_data is not None and not isinstance(user_data, _B64):
            data = dict(data, UserData=_parse_user_data(user_data))
        return _create_version(self, data, description)

    _lt.LaunchTemplate.create_version = _create_version_parsing_user_data
except Exception as _err:  # never stop moto from starting
    import sys

    print("kapstan moto fix not applied:", _err, file=sys.stderr)
