"""Enrolments made before assessments were recorded in Steg get an assessment record that says
so, so that every enrolment can point at one (the next migration makes it required)."""

from django.db import migrations

NOTE = (
    "Recorded by migration: this enrolment was made before Steg kept assessment talks. "
    "The talk took place outside Steg."
)


def forwards(apps, schema_editor):
    Enrolment = apps.get_model("care", "Enrolment")
    Assessment = apps.get_model("care", "Assessment")
    for enrolment in Enrolment.objects.filter(assessment__isnull=True).select_related(
        "programme_version"
    ):
        assessment = Assessment.objects.create(
            patient_id=enrolment.patient_id,
            unit_id=enrolment.unit_id,
            therapist=None,
            held_on=enrolment.created_at.date(),
            mode="phone",
            tobacco_type="other",
            tobacco_use="",
            motivation=0,
            confidence=0,
            notes=NOTE,
            choice="digital_guided",
            choice_reason=NOTE,
            programme_id=enrolment.programme_version.programme_id,
        )
        enrolment.assessment = assessment
        enrolment.save(update_fields=["assessment"])


class Migration(migrations.Migration):
    dependencies = [("care", "0004_care_journey")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
