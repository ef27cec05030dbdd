"""Interviewers phrase questions and follow-ups: offline (as written) and LLM (natural, streamed)."""

from interviewer.interviewers.base import Interviewer, InterviewerNotice, coverage, missing_points
from interviewer.interviewers.offline import OfflineInterviewer

__all__ = ["Interviewer", "InterviewerNotice", "OfflineInterviewer", "coverage", "missing_points"]
