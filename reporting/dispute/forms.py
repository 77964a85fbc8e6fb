from __future__ import annotations

from typing import Any

from django import forms

MAX_BYTES = 25 * 1024 * 1024  # far above any packet we issue (photos included)


class PacketVerifyForm(forms.Form):
    file = forms.FileField(
        label="Dispute packet (PDF)",
        help_text=f"The PDF as you received it, up to {MAX_BYTES // (1024 * 1024)} MB.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: no packet is."
            )
        return upload
