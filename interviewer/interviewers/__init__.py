"""Interviewers phrase questions and follow-ups: offline (as written) and LLM (natural, streamed)."""

from interviewer.interviewers.base import Interviewer, InterviewerNotice
from interviewer.interviewers.offline import OfflineInterviewer

__all__ = ["Interviewer", "InterviewerNotice", "OfflineInterviewer"]
